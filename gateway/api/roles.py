"""Who may call a route: a role declared on each handler, for the auth layer to enforce.

Roles are ordered: ``viewer`` < ``clinician`` < ``admin`` (a clinician may do what a viewer may). A handler
declares the least role it needs with :func:`requires`; :func:`required_role` reads it back (an auth
middleware looks at ``request.match_info.handler``). A handler that declares none needs :data:`DEFAULT_ROLE`.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import TypeVar

F = TypeVar("F", bound=Callable[..., object])
_ATTRIBUTE = "iomt_required_role"


class Role(StrEnum):
    VIEWER = "viewer"
    CLINICIAN = "clinician"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def allows(self, needed: Role) -> bool:
        """Whether someone with this role may call a route that needs ``needed``."""
        return self.rank >= needed.rank


DEFAULT_ROLE = Role.VIEWER


def requires(role: Role) -> Callable[[F], F]:
    """Declare the least role a handler needs."""

    def mark(handler: F) -> F:
        setattr(handler, _ATTRIBUTE, role)
        return handler

    return mark


def required_role(handler: object) -> Role:
    role = getattr(handler, _ATTRIBUTE, DEFAULT_ROLE)
    return role if isinstance(role, Role) else DEFAULT_ROLE
