"""Request body limits: a size per route, and a bound on how many large bodies are held at once.

Eight concurrent 60 MB uploads once took the gateway from 65 to 492 MB of memory: each body is read
whole before it is decoded. Now:

* every route has a size limit: the uplink (and any route declared ``large_body``) takes up to
  ``max_uplink_bytes``, every other route ``limits.json_body_bytes``; a larger ``Content-Length`` is
  refused with 413 before a byte of the body is read, and a body without one stops being read at the
  limit (aiohttp's ``client_max_size``, set per request);
* a *large* body (above ``limits.large_body_bytes``, or of unknown length) needs one of
  ``limits.concurrent_large_bodies`` slots for as long as its handler runs. Further ones wait up to
  ``limits.large_body_wait_s`` — unread: the socket's buffer fills and TCP stops the sender — and
  are then answered 503 with ``Retry-After`` (the edge keeps the batch and retries).

This runs after authentication (:mod:`gateway.auth.middleware`): an unauthenticated upload is
refused without being read and never takes a slot.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from gateway.auth.access import route_access
from gateway.config import GatewayConfig

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _json_error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": message, "status": status}, status=status, headers=headers)


class LargeBodies:
    """The slots large bodies take turns on (``slots == 0``: no limit). Lives on one event loop."""

    def __init__(self, slots: int, wait_s: float, on_refused: Callable[[], None] = lambda: None) -> None:
        self.slots = slots
        self.wait_s = wait_s
        self.waiting = 0
        self.refused = 0
        self.on_refused = on_refused
        self._semaphore = asyncio.Semaphore(slots) if slots else None

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[bool]:
        """Yields whether a slot was had within ``wait_s`` (always, without a limit)."""
        if self._semaphore is None:
            yield True
            return
        self.waiting += 1
        try:
            await asyncio.wait_for(self._semaphore.acquire(), self.wait_s)
        except TimeoutError:
            self.refused += 1
            self.on_refused()
            yield False
            return
        finally:
            self.waiting -= 1
        try:
            yield True
        finally:
            self._semaphore.release()


def make_middleware(config: GatewayConfig, large: LargeBodies) -> Middleware:
    limits = config.limits

    @web.middleware
    async def limit_bodies(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method not in BODY_METHODS or request.match_info.http_exception is not None:
            return await handler(request)
        access = route_access(request.match_info.route)
        limit = config.max_uplink_bytes if access is not None and access.large_body else limits.json_body_bytes
        length = request.content_length
        if length is not None and length > limit:
            return _json_error(413, f"the body has {length} bytes; this route takes at most {limit}")
        request = request.clone(client_max_size=limit)
        if length is not None and length <= limits.large_body_bytes:
            return await handler(request)
        if limit <= limits.large_body_bytes:
            return await handler(request)  # a small route: client_max_size bounds a body of unknown length
        async with large.slot() as granted:
            if not granted:
                return _json_error(503, f"too many large uploads at once; retry in {_retry_after(large)} s",
                                   {"Retry-After": str(_retry_after(large))})
            return await handler(request)

    return limit_bodies


def _retry_after(large: LargeBodies) -> int:
    return max(1, round(large.wait_s))
