"""The records the authentication API answers with (serialised, and their schemas derived, by
:mod:`gateway.serde`). Secrets appear only in :class:`IssuedToken` and :class:`CreatedUser`: the one
answer that hands them out."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.auth.roles import Credential, Role


@dataclass(frozen=True, slots=True)
class Me:
    """Who the request was authenticated as, and how."""

    user: str
    role: Role
    via: Credential


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """A browser session just opened (the secret itself is only in the HttpOnly cookie)."""

    user: str
    role: Role
    expires_us: int


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """An API token, shown once: send it as ``Authorization: Bearer <token>``."""

    token: str
    user: str
    role: Role
    label: str
    expires_us: int


@dataclass(frozen=True, slots=True)
class UserView:
    name: str
    role: Role
    created_us: int
    changed_us: int


@dataclass(frozen=True, slots=True)
class CreatedUser:
    """A user just added or given a new password; ``password`` is set (once) when the gateway generated it."""

    name: str
    role: Role
    password: str | None
