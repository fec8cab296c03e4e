"""Wire authentication, the audit log and the body limits into the gateway's application."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web

from gateway import bodies
from gateway.audit import AuditLog
from gateway.auth import middleware
from gateway.auth.access import undeclared_routes
from gateway.auth.context import AUDIT, EDGE_AUTHORITY, LIMITER, USERS
from gateway.auth.edges import EdgeAuthority, EdgeTokens
from gateway.auth.limiter import LoginLimiter
from gateway.auth.users import UserStore
from gateway.config import GatewayConfig
from gateway.state import METRICS

#: Password checks (scrypt, 32 MiB each) run at once at most; more wait their turn.
KDF_SLOTS = web.AppKey("kdf_slots", asyncio.Semaphore)
LARGE_BODIES = web.AppKey("large_bodies", bodies.LargeBodies)
#: Seconds between deletions of expired sessions and tokens.
PRUNE_EVERY_S = 600.0

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "Referrer-Policy": "same-origin",
}


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.path.startswith("/api/"):
        response.headers.setdefault("Cache-Control", "no-store")  # patient data stays out of caches


def install(app: web.Application, config: GatewayConfig, edges: EdgeAuthority | None = None) -> None:
    """Add the auth and body-limit middlewares (after those already there), open the user store, the
    edge authority (``edges`` if given, else ``config.registry``'s enrolled edges, else the state
    file's edge tokens) and the audit log with the app,
    and refuse to start while a route declares no access."""
    large = bodies.LargeBodies(config.limits.concurrent_large_bodies, config.limits.large_body_wait_s,
                               on_refused=lambda: app[METRICS].large_bodies_refused.inc())
    app[LARGE_BODIES] = large
    app[KDF_SLOTS] = asyncio.Semaphore(2)
    app[LIMITER] = LoginLimiter(config.auth.max_failures, config.auth.lockout_s, config.auth.attempts_per_minute)
    app.middlewares.append(middleware.make_middleware(config.auth))
    app.middlewares.append(bodies.make_middleware(config, large))
    app.on_response_prepare.append(_security_headers)

    async def resources(app: web.Application) -> AsyncIterator[None]:
        missing = undeclared_routes(app)
        if missing:
            raise RuntimeError("routes without an access declaration (decorate their handlers with "
                               f"gateway.auth.requires/public/edges_only): {', '.join(missing)}")
        loop = asyncio.get_running_loop()
        users = await loop.run_in_executor(None, lambda: UserStore(
            config.state_file(), session_idle_s=config.auth.session_idle_s, session_max_s=config.auth.session_max_s))
        audit = await loop.run_in_executor(None, AuditLog, config.audit_file())
        own_edges = EdgeTokens(config.state_file()) if edges is None and config.registry is None else None
        authority: EdgeAuthority
        if edges is not None:
            authority = edges
        elif own_edges is not None:
            authority = own_edges
        else:
            authority = _registry_edges(config, audit)
        app[USERS] = users
        app[EDGE_AUTHORITY] = authority
        app[AUDIT] = audit
        pruner = asyncio.ensure_future(_prune_forever(users))
        yield
        pruner.cancel()
        await asyncio.gather(pruner, return_exceptions=True)
        users.close()
        if own_edges is not None:
            own_edges.close()
        app[AUDIT].close()

    app.cleanup_ctx.append(resources)


def _registry_edges(config: GatewayConfig, audit: AuditLog) -> EdgeAuthority:
    """The configured device registry as the edge authority (its changes audited in the gateway's log
    unless the registry names its own)."""
    from gateway.auth.registry_edges import RegistryEdges
    from gateway.registry.config import audit_changes, open_registry

    assert config.registry is not None
    registry = open_registry(config.registry)
    if registry.on_change is None:
        registry.on_change = audit_changes(audit)
    return RegistryEdges(registry)


async def _prune_forever(users: UserStore) -> None:
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(PRUNE_EVERY_S)
        await loop.run_in_executor(None, users.prune)
