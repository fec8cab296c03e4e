"""The audit log for admins: its entries, and a check of its hash chain."""

from __future__ import annotations

import asyncio

from aiohttp import web

from gateway import serde
from gateway.api import params
from gateway.auth.access import requires
from gateway.auth.context import AUDIT
from gateway.auth.roles import Role

MAX_ENTRIES = 10_000


@requires(Role.ADMIN)
async def list_audit(request: web.Request) -> web.Response:
    """Entries after ``since`` (a sequence number), oldest first, at most ``limit``."""
    since = params.integer(request.query, "since", 0, 0, 2**62)
    limit = params.integer(request.query, "limit", 500, 1, MAX_ENTRIES)
    entries = await asyncio.get_running_loop().run_in_executor(None, request.app[AUDIT].entries, since, limit)
    return web.json_response(serde.AUDIT.body(entries))


@requires(Role.ADMIN)
async def verify_audit(request: web.Request) -> web.Response:
    """Recompute the chain: ``ok``, the number of entries, the head hash, and the first bad entry."""
    result = await asyncio.get_running_loop().run_in_executor(None, request.app[AUDIT].verify)
    return web.json_response(serde.to_json(result))


ROUTES = (
    ("GET", "/api/v1/audit", list_audit),
    ("GET", "/api/v1/audit/verify", verify_audit),
)


def add_routes(app: web.Application) -> None:
    for method, path, handler in ROUTES:
        app.router.add_route(method, path, handler)
