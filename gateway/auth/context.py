"""What handlers use: the authenticated principal of a request, and the audit log under its name."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from gateway.audit import AuditLog
from gateway.auth.edges import EdgeAuthority
from gateway.auth.limiter import LoginLimiter
from gateway.auth.roles import Principal
from gateway.auth.users import UserStore

log = logging.getLogger(__name__)

USERS = web.AppKey("users", UserStore)
EDGE_AUTHORITY = web.AppKey("edge_authority", EdgeAuthority)
AUDIT = web.AppKey("audit", AuditLog)
LIMITER = web.AppKey("login_limiter", LoginLimiter)
PRINCIPAL = web.RequestKey("principal", Principal)


def principal(request: web.Request) -> Principal:
    """Who sent ``request`` (set by the auth middleware; a public route has none and raises)."""
    try:
        return request[PRINCIPAL]
    except KeyError:
        raise RuntimeError(f"{request.path} is a public route: nobody is signed in there") from None


def edge_node(request: web.Request) -> str:
    """The edge node an uplink request was authenticated as (its credential, not a header)."""
    return principal(request).name


async def audit(request: web.Request, action: str, target: str, detail: Mapping[str, Any] | None = None,
                actor: str | None = None) -> None:
    """Append to the audit log as the request's principal (or ``actor``), off the event loop.

    Never put a secret in ``detail``.
    """
    who = actor if actor is not None else principal(request).actor
    await asyncio.get_running_loop().run_in_executor(None, request.app[AUDIT].append, who, action, target,
                                                     dict(detail or {}))
