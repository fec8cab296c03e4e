"""The gateway's front door: every request is checked here before its handler runs.

In order, each refusal a JSON error ``{"error", "status"}``:

1. **Origin** — a state-changing request or a WebSocket handshake that carries an ``Origin`` other
   than the gateway's own (or one of ``auth.allowed_origins``) is refused (403): a foreign web page
   cannot act with a signed-in browser's cookie, nor read the live feed.
2. **Authentication** — the route's declaration (:mod:`gateway.auth.access`) says who may call it:
   people by their session cookie or ``Authorization: Bearer`` API token, edges by their uplink
   token, the scraper by its token. None valid: 401 (an HTML page redirects a browser, one without an
   ``Authorization`` header, to ``/login``).
3. **Role** — a person whose role is below the route's: 403. An edge whose ``X-Iomt-Node`` header
   names another node than its credential: 403.
4. **Content type** — a state-changing request (POST, PUT, PATCH, DELETE) must be
   ``application/json`` (the uplink: its own media type): 415. Together with the SameSite=Strict
   session cookie this stops cross-site requests: an HTML form or a "simple" cross-origin fetch
   cannot send JSON.

The request's body is not read before all of this passed, so an unauthenticated upload costs nothing.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from aiohttp import hdrs, web
from aiohttp.typedefs import Middleware

from gateway.auth.access import Access, route_access
from gateway.auth.context import EDGE_AUTHORITY, PRINCIPAL, USERS
from gateway.auth.roles import Credential, Principal, PrincipalKind
from gateway.config import AuthConfig
from iomt.wire.uplink import CONTENT_TYPE as UPLINK_CONTENT_TYPE
from iomt.wire.uplink import NODE_HEADER

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: The session cookie: HttpOnly (no script reads it), SameSite=Strict (no other site sends it).
COOKIE = "iomt_session"
LOGIN_PATH = "/login"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
JSON = "application/json"


def refuse(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": message, "status": status}, status=status, headers=headers)


def bearer(request: web.Request) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header."""
    scheme, _, token = request.headers.get(hdrs.AUTHORIZATION, "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def own_origin(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def is_websocket(request: web.Request) -> bool:
    return request.headers.get(hdrs.UPGRADE, "").lower() == "websocket"


def refuse_edge(request: web.Request) -> web.Response:
    """401 for an uplink without a valid edge token; a token that was sent but matches no edge (unknown,
    revoked or replaced) is told apart from a missing one (RFC 6750 ``invalid_token``)."""
    if bearer(request) is None:
        return refuse(401, "an edge uplink token is required (Authorization: Bearer <token>)",
                      {hdrs.WWW_AUTHENTICATE: 'Bearer realm="iomt-uplink"'})
    return refuse(401, "this edge uplink token is not valid (unknown, revoked or replaced by a newer one): give "
                       "the edge its current token (iomt devices rotate EDGE, or iomt edge-tokens issue EDGE "
                       "without a registry) and restart it",
                  {hdrs.WWW_AUTHENTICATE: 'Bearer realm="iomt-uplink", error="invalid_token"'})


def make_middleware(config: AuthConfig) -> Middleware:
    """The middleware for ``config`` (allowed origins, the scrape token)."""
    allowed = frozenset(o.rstrip("/") for o in config.allowed_origins)
    scrape_token = config.metrics_token.get_secret_value() if config.metrics_token is not None else None

    async def identify_user(request: web.Request, access: Access) -> Principal | None:
        token = bearer(request)
        loop = asyncio.get_running_loop()
        if token is not None:
            if access.scrape and scrape_token is not None and hmac.compare_digest(token, scrape_token):
                return Principal(PrincipalKind.SCRAPER, "metrics", None, Credential.SCRAPE_TOKEN)
            return await loop.run_in_executor(None, request.app[USERS].authenticate, token, Credential.TOKEN)
        cookie = request.cookies.get(COOKIE)
        if cookie:
            return await loop.run_in_executor(None, request.app[USERS].authenticate, cookie, Credential.SESSION)
        return None

    async def identify_edge(request: web.Request) -> Principal | None:
        token = bearer(request)
        if token is None:
            return None
        node = await asyncio.get_running_loop().run_in_executor(
            None, request.app[EDGE_AUTHORITY].edge_for_token, token)
        return None if node is None else Principal(PrincipalKind.EDGE, node, None, Credential.EDGE_TOKEN)

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        match = request.match_info
        if match.http_exception is not None:
            return await handler(request)  # 404 / 405: nothing to protect
        access = route_access(match.route)
        if access is None:
            return refuse(500, "this route declares no access rule; the gateway refuses it")
        unsafe = request.method in UNSAFE_METHODS
        origin = request.headers.get(hdrs.ORIGIN)
        if origin is not None and (unsafe or is_websocket(request)) and origin.rstrip("/") != own_origin(request) \
                and origin.rstrip("/") not in allowed:
            return refuse(403, f"requests from origin {origin[:100]!r} are not allowed; add it to "
                               "gateway.auth.allowed_origins if it is yours")
        if not access.public:
            if access.edges:
                who = await identify_edge(request)
                if who is None:
                    return refuse_edge(request)
                claimed = request.headers.get(NODE_HEADER)
                if claimed is not None and claimed != who.name:
                    return refuse(403, f"{NODE_HEADER} says {claimed[:64]!r} but the credential is edge {who.name!r}")
            else:
                who = await identify_user(request, access)
                if who is None:
                    if access.page and request.method in ("GET", "HEAD") and bearer(request) is None:
                        raise web.HTTPSeeOther(location=f"{LOGIN_PATH}?next={quote(request.path_qs, safe='')}")
                    return refuse(401, "sign in first: a session cookie (POST /api/v1/login) or "
                                       "Authorization: Bearer <API token> (POST /api/v1/tokens)",
                                  {hdrs.WWW_AUTHENTICATE: 'Bearer realm="iomt"'})
                assert access.role is not None
                if who.kind is PrincipalKind.USER and not who.has(access.role):
                    return refuse(403, f"this needs the {access.role.value} role; {who.name!r} is "
                                       f"{who.role.value if who.role else 'no user'}")
            request[PRINCIPAL] = who
        if unsafe:
            wanted = UPLINK_CONTENT_TYPE if access.edges else JSON
            if request.content_type != wanted:
                return refuse(415, f"Content-Type must be {wanted}, got {request.content_type!r}")
        return await handler(request)

    return authenticate
