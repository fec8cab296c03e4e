"""Sign-in and people: login/logout (browser session cookie), API tokens, who am I, and user
management for admins. Every answer goes through :mod:`gateway.serde`; every login (success and
failure), token, logout and user change is written to the audit log."""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path
from typing import Any

from aiohttp import web

from gateway import serde
from gateway.api.params import BadRequest
from gateway.auth import passwords
from gateway.auth.access import public, requires
from gateway.auth.context import LIMITER, USERS, audit, principal
from gateway.auth.install import KDF_SLOTS
from gateway.auth.middleware import COOKIE, LOGIN_PATH
from gateway.auth.records import CreatedUser, IssuedToken, Me, SessionInfo, UserView
from gateway.auth.roles import Role
from gateway.auth.users import UnknownUser, User, UserError, check_role
from gateway.state import CONFIG, METRICS

STATIC = Path(__file__).resolve().parent.parent / "static"


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object; 400 naming ``body`` otherwise."""
    try:
        body = await request.json(loads=json.loads)
    except ValueError:
        raise BadRequest("body", "must be a JSON object") from None
    if not isinstance(body, dict):
        raise BadRequest("body", "must be a JSON object")
    return body


def text_field(body: dict[str, Any], name: str, *, required: bool = True, max_length: int = 1024) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > max_length:
        raise BadRequest(name, f"a non-empty string of at most {max_length} characters")
    return value


def user_view(user: User) -> UserView:
    return UserView(user.name, user.role, user.created_us, user.changed_us)


async def _in_thread(fn: Any, *args: Any) -> Any:
    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


async def check_password(request: web.Request, name: str, password: str) -> User:
    """The user ``name`` if ``password`` is theirs; 429 while throttled, 401 otherwise (both audited)."""
    address = request.remote or "unknown"
    client = f"client:{address}"
    target = f"user:{name[:64]}"
    wait = request.app[LIMITER].retry_after(name, address)
    metrics = request.app[METRICS]
    if wait > 0:
        metrics.logins.labels("throttled").inc()
        await audit(request, "login.throttled", target, {"address": address}, actor=client)
        seconds = math.ceil(wait)
        raise _with_headers(web.HTTPTooManyRequests(reason=f"too many attempts; try again in {seconds} s"),
                            {"Retry-After": str(seconds)})
    async with request.app[KDF_SLOTS]:
        user = await _in_thread(request.app[USERS].verify, name, password)
    if user is None:
        locked = request.app[LIMITER].failed(name)
        metrics.logins.labels("failed").inc()
        await audit(request, "login.failed", target, {"address": address, "locked": locked}, actor=client)
        raise web.HTTPUnauthorized(reason="wrong user name or password")
    request.app[LIMITER].succeeded(name)
    metrics.logins.labels("ok").inc()
    return user


def _with_headers(exc: web.HTTPException, headers: dict[str, str]) -> web.HTTPException:
    exc.headers.update(headers)
    return exc


@public
async def login_page(_request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "login.html", headers={"Cache-Control": "no-cache"})


@public
async def login(request: web.Request) -> web.Response:
    """``{"username", "password"}`` -> a session cookie (HttpOnly, SameSite=Strict; Secure over HTTPS)."""
    body = await json_body(request)
    name = text_field(body, "username", max_length=64)
    password = text_field(body, "password", max_length=passwords.MAX_LENGTH)
    assert name is not None and password is not None
    user = await check_password(request, name, password)
    session = await _in_thread(request.app[USERS].open_session, user.name)
    await audit(request, "login", f"user:{user.name}", {"address": request.remote or "unknown", "via": "session"},
                actor=f"user:{user.name}")
    response = web.json_response(serde.to_json(SessionInfo(user.name, user.role, session.expires_us)))
    response.set_cookie(COOKIE, session.secret, httponly=True, samesite="Strict", secure=request.secure, path="/")
    return response


@public
async def issue_token(request: web.Request) -> web.Response:
    """``{"username", "password", "label"?, "ttl_s"?}`` -> an API token for scripts and integrations."""
    body = await json_body(request)
    name = text_field(body, "username", max_length=64)
    password = text_field(body, "password", max_length=passwords.MAX_LENGTH)
    label = text_field(body, "label", required=False, max_length=64) or "api"
    auth = request.app[CONFIG].auth
    ttl = body.get("ttl_s", auth.token_ttl_s)
    if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not 60 <= ttl <= auth.token_max_ttl_s:
        raise BadRequest("ttl_s", f"seconds the token lives, 60..{auth.token_max_ttl_s:g}")
    assert name is not None and password is not None
    user = await check_password(request, name, password)
    issued = await _in_thread(request.app[USERS].issue_token, user.name, label, float(ttl))
    await audit(request, "token.issue", f"user:{user.name}", {"label": label, "expires_us": issued.expires_us,
                                                               "address": request.remote or "unknown"},
                actor=f"user:{user.name}")
    token = IssuedToken(issued.secret, user.name, user.role, label, issued.expires_us)
    return web.json_response(serde.to_json(token), status=201)


@requires(Role.VIEWER)
async def logout(request: web.Request) -> web.Response:
    """End the session or API token this request was made with."""
    who = principal(request)
    await _in_thread(request.app[USERS].revoke, who.credential_id)
    await audit(request, "logout", f"user:{who.name}", {"via": who.credential.value})
    response = web.json_response({"signed_out": who.name})
    response.del_cookie(COOKIE, path="/")
    return response


@requires(Role.VIEWER)
async def me(request: web.Request) -> web.Response:
    who = principal(request)
    assert who.role is not None
    return web.json_response(serde.to_json(Me(who.name, who.role, who.credential)))


@requires(Role.ADMIN)
async def list_users(request: web.Request) -> web.Response:
    users = await _in_thread(request.app[USERS].users)
    return web.json_response(serde.USERS.body(user_view(u) for u in users))


@requires(Role.ADMIN)
async def add_user(request: web.Request) -> web.Response:
    """``{"name", "role", "password"?}``; without a password the gateway generates one and answers it once."""
    body = await json_body(request)
    name = text_field(body, "name", max_length=64)
    role = _role(text_field(body, "role", max_length=16))
    given = text_field(body, "password", required=False, max_length=passwords.MAX_LENGTH)
    password = given if given is not None else passwords.generate()
    try:
        user = await _in_thread(request.app[USERS].add, name, role, password)
    except passwords.PasswordError as exc:
        raise BadRequest("password", str(exc)) from None
    except UserError as exc:
        if "exists" in str(exc):
            raise web.HTTPConflict(reason=str(exc)) from None
        raise BadRequest("name", str(exc)) from None
    await audit(request, "user.add", f"user:{user.name}", {"role": user.role.value})
    created = CreatedUser(user.name, user.role, None if given is not None else password)
    return web.json_response(serde.to_json(created), status=201)


@requires(Role.ADMIN)
async def change_user(request: web.Request) -> web.Response:
    """``{"role"?, "password"?}``; ``"password": null`` generates one (answered once). A new password ends
    the user's sessions and tokens."""
    name = request.match_info["name"]
    body = await json_body(request)
    if not {"role", "password"} & set(body):
        raise BadRequest("body", 'give "role" and/or "password"')
    users = request.app[USERS]
    generated = None
    try:
        if "role" in body:
            role = _role(text_field(body, "role", max_length=16))
            await _in_thread(users.set_role, name, role)
            await audit(request, "user.role", f"user:{name}", {"role": role.value})
        if "password" in body:
            given = text_field(body, "password", required=False, max_length=passwords.MAX_LENGTH)
            generated = passwords.generate() if given is None else None
            await _in_thread(users.set_password, name, given or generated)
            await audit(request, "user.passwd", f"user:{name}", {"generated": generated is not None})
    except UnknownUser:
        raise web.HTTPNotFound(reason=f"no user {name!r}") from None
    except passwords.PasswordError as exc:
        raise BadRequest("password", str(exc)) from None
    except UserError as exc:
        raise web.HTTPConflict(reason=str(exc)) from None
    user = await _in_thread(users.get, name)
    return web.json_response(serde.to_json(CreatedUser(user.name, user.role, generated)))


@requires(Role.ADMIN)
async def remove_user(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    try:
        await _in_thread(request.app[USERS].remove, name)
    except UnknownUser:
        raise web.HTTPNotFound(reason=f"no user {name!r}") from None
    except UserError as exc:
        raise web.HTTPConflict(reason=str(exc)) from None
    await audit(request, "user.remove", f"user:{name}")
    return web.json_response({"removed": name})


def _role(value: str | None) -> Role:
    try:
        return check_role(value or "")
    except UserError as exc:
        raise BadRequest("role", str(exc)) from None


#: (method, path, handler) of every route here; the OpenAPI document lists the same paths.
ROUTES = (
    ("GET", LOGIN_PATH, login_page),
    ("POST", "/api/v1/login", login),
    ("POST", "/api/v1/logout", logout),
    ("POST", "/api/v1/tokens", issue_token),
    ("GET", "/api/v1/me", me),
    ("GET", "/api/v1/users", list_users),
    ("POST", "/api/v1/users", add_user),
    ("PATCH", "/api/v1/users/{name}", change_user),
    ("DELETE", "/api/v1/users/{name}", remove_user),
)


def add_routes(app: web.Application) -> None:
    for method, path, handler in ROUTES:
        app.router.add_route(method, path, handler)

