"""The device registry over HTTP, for admins: list, enrol, rotate and revoke devices, edges and
gateways — what ``iomt devices`` does from the command line, through the same
:class:`~gateway.registry.service.DeviceRegistry` (so a revocation reaches the broker at once, by the
same driver, without a restart).

The gateway opens the registry of ``[gateway.registry]``; without one every route answers 503 saying
what to configure. Secrets are answered once (:class:`IssuedCredentials`), never logged, never
audited: each change is appended to the audit log by the registry's change hook, under the admin's
name, with the identity's kind and site only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from aiohttp import web

from gateway import serde
from gateway.api import params
from gateway.api.auth_routes import json_body
from gateway.api.params import BadRequest
from gateway.api.registry_records import IssuedCredentials, RegistryEntry
from gateway.auth.access import requires
from gateway.auth.context import AUDIT, principal
from gateway.auth.roles import Role
from gateway.registry.brokers import BrokerSyncError
from gateway.registry.config import audit_changes, open_registry
from gateway.registry.records import Kind, Principal, RegistryError, check_name, check_site
from gateway.registry.service import DeviceRegistry
from gateway.state import CONFIG

log = logging.getLogger(__name__)

T = TypeVar("T")

PREFIX = "/api/v1/registry/identities"
REGISTRY = web.AppKey("device_registry", DeviceRegistry)

NOT_CONFIGURED = (
    "the device registry is not configured on this gateway: set [gateway.registry] in its config (path = the "
    "registry's SQLite file; broker = 'dynsec' with [gateway.registry.dynsec] = the dynamic security plugin's "
    "admin connection, or 'embedded'), or IOMT_GATEWAY__REGISTRY__PATH; the demo and compose set it"
)


def _registry(request: web.Request) -> DeviceRegistry:
    registry = request.app.get(REGISTRY)
    if registry is None:
        raise web.HTTPServiceUnavailable(reason=NOT_CONFIGURED)
    return registry


def _not_enrolled(name: str) -> web.HTTPNotFound:
    return web.HTTPNotFound(reason=f"{name[:64]!r} is not enrolled in the device registry (see GET {PREFIX})")


async def _call(fn: Callable[[], T], what: str, unchanged: bool) -> T:
    """Run a registry call off the event loop; a broker that did not take the change is 503 (its
    address and answer go to the log, not to the client), any other refusal 409 with its reason."""
    try:
        return await asyncio.get_running_loop().run_in_executor(None, fn)
    except BrokerSyncError as exc:
        log.warning("registry: %s: %s", what, exc)
        outcome = "nothing was changed; retry once the broker is reachable" if unchanged else (
            "it is revoked in the registry (the gateway refuses it already); run `iomt devices sync` once the broker "
            "is back")
        raise web.HTTPServiceUnavailable(
            reason=f"the broker did not take the change ({what}): {outcome}; its answer is in the gateway's log"
        ) from None
    except RegistryError as exc:
        raise web.HTTPConflict(reason=str(exc)) from None


async def _body(request: web.Request, allowed: frozenset[str]) -> dict[str, Any]:
    """The JSON object of the request (an empty body is ``{}``); 400 naming an unknown field."""
    if not request.body_exists:
        return {}
    body = await json_body(request)
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise BadRequest(unknown[0], f"unknown field; this request takes {', '.join(sorted(allowed)) or 'none'}")
    return body


def _flag(body: dict[str, Any], name: str, default: bool) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise BadRequest(name, "true or false")
    return value


def _string(body: dict[str, Any], name: str, default: str | None = None) -> str:
    value = body.get(name, default)
    if not isinstance(value, str) or not value:
        raise BadRequest(name, "a non-empty string is required")
    return value


@requires(Role.ADMIN)
async def list_identities(request: web.Request) -> web.Response:
    """Every enrolled identity with its state, optionally of one ``kind`` and ``site``; ``active=true``
    leaves out revoked ones."""
    kind = params.member(request.query, "kind", Kind)
    site = request.query.get("site") or None
    if site is not None and site != "+":
        params.identifier(site, "site")
    active = params.choice(request.query, "active", ("true", "false")) == "true"
    registry = _registry(request)
    found = await asyncio.get_running_loop().run_in_executor(
        None, lambda: registry.list(kind, site, include_revoked=not active))
    return web.json_response(serde.REGISTRY.body(RegistryEntry.of(p) for p in found))


@requires(Role.ADMIN)
async def get_identity(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    registry = _registry(request)
    found = await asyncio.get_running_loop().run_in_executor(None, registry.get, name)
    if found is None:
        raise _not_enrolled(name)
    return web.json_response(serde.to_json(RegistryEntry.of(found)))


@requires(Role.ADMIN)
async def enrol(request: web.Request) -> web.Response:
    """``{"name", "site", "kind"?: device|edge|gateway, "device_key"?: bool}`` -> its credentials, once (201)."""
    body = await _body(request, frozenset({"name", "kind", "site", "device_key"}))
    name = _string(body, "name")
    try:
        kind = Kind(_string(body, "kind", Kind.DEVICE.value))
    except ValueError:
        raise BadRequest("kind", f"one of {', '.join(k.value for k in Kind)}") from None
    site = _string(body, "site")
    with_key = _flag(body, "device_key", True)
    for field, check in (("name", lambda: check_name(name)), ("site", lambda: check_site(site, kind))):
        try:
            check()
        except RegistryError as exc:
            raise BadRequest(field, str(exc)) from None
    registry = _registry(request)
    actor = principal(request).actor

    def run() -> IssuedCredentials:
        existing = registry.get(name)
        if existing is not None:
            raise web.HTTPConflict(reason=f"{name!r} is already enrolled (a {existing.kind}, {existing.status}); names "
                                          f"are never reused: rotate its credentials (POST {PREFIX}/{name}/rotate) "
                                          "or enrol under another name")
        return IssuedCredentials.of(registry.enrol(name, kind, site, device_key=with_key, actor=actor))

    issued = await _call(run, f"enrol {name}", unchanged=True)
    return web.json_response(serde.to_json(issued), status=201)


@requires(Role.ADMIN)
async def rotate(request: web.Request) -> web.Response:
    """``{"new_device_key"?: bool}`` -> new credentials, once; the old password and token stop working."""
    name = request.match_info["name"]
    body = await _body(request, frozenset({"new_device_key"}))
    new_key = _flag(body, "new_device_key", False)
    registry = _registry(request)
    actor = principal(request).actor

    def run() -> IssuedCredentials:
        current = _current(registry, name)
        if not current.active:
            raise web.HTTPConflict(reason=f"{name!r} is revoked; a revoked identity gets no new credentials (enrol "
                                          "a new one under another name)")
        if new_key and current.kind is not Kind.DEVICE:
            raise BadRequest("new_device_key", f"{name!r} is a {current.kind}: only devices have keys")
        return IssuedCredentials.of(registry.rotate(name, new_device_key=new_key, actor=actor))

    return web.json_response(serde.to_json(await _call(run, f"rotate {name}", unchanged=True)))


@requires(Role.ADMIN)
async def revoke(request: web.Request) -> web.Response:
    """Revoke at once: the broker drops the client if it is connected and refuses it from then on, the
    uplink refuses an edge's token. Idempotent; answers the identity's state."""
    name = request.match_info["name"]
    await _body(request, frozenset())
    registry = _registry(request)
    actor = principal(request).actor

    def run() -> RegistryEntry:
        _current(registry, name)
        return RegistryEntry.of(registry.revoke(name, actor=actor))

    return web.json_response(serde.to_json(await _call(run, f"revoke {name}", unchanged=False)))


def _current(registry: DeviceRegistry, name: str) -> Principal:
    found = registry.get(name)
    if found is None:
        raise _not_enrolled(name)
    return found


ROUTES = (
    ("GET", PREFIX, list_identities),
    ("POST", PREFIX, enrol),
    ("GET", f"{PREFIX}/{{name}}", get_identity),
    ("POST", f"{PREFIX}/{{name}}/rotate", rotate),
    ("POST", f"{PREFIX}/{{name}}/revoke", revoke),
)


async def _open(app: web.Application) -> AsyncIterator[None]:
    """Open ``[gateway.registry]`` with the app; changes are audited in the gateway's log unless the
    registry names its own (as ``iomt devices`` does with the same config)."""
    config = app[CONFIG].registry
    if config is not None:
        registry = await asyncio.get_running_loop().run_in_executor(None, open_registry, config)
        if registry.on_change is None:
            registry.on_change = audit_changes(app[AUDIT])
        app[REGISTRY] = registry
    yield


def add_routes(app: web.Application) -> None:
    """The routes, and the registry opened with the app (after the audit log)."""
    app.cleanup_ctx.append(_open)
    for method, path, handler in ROUTES:
        app.router.add_route(method, path, handler)
