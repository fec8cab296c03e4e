"""The image API: a patient's images, one image as PNG (decrypted here, for an authorised user), its mask
layers as run lengths or PNG, and the device keys an edge needs to open its site's images.

Each handler declares who may call it with the gateway's access decorators (:mod:`gateway.auth`:
``viewer`` < ``clinician`` < ``admin``, or ``edge``: an edge node with its uplink credential), which
the auth middleware enforces:

==========================================================  =======  ==================================
route                                                       role     what
==========================================================  =======  ==================================
``GET /api/v1/patients/{device}/images``                    viewer   list (time, modality, spacing, size,
                                                                     layers, finding, model version)
``GET /api/v1/images/{image_id}``                           viewer   one image's record
``GET /api/v1/images/{image_id}/image.png``                 viewer   the pixels, decrypted, as PNG
``GET /api/v1/images/{image_id}/masks/{layer}``             viewer   a mask layer: JSON run lengths, or
                                                                     ``?format=png``
``GET /api/v1/edge/device-keys``                            edge     keys of the edge's site's devices
==========================================================  =======  ==================================

Viewing an image needs no more than viewing a waveform: both are the patient's data shown to the
people who look after them. The device keys go only to an edge (the party that must see pixels to
segment them), only for devices of its own site, and every release is written to the audit log (never
the key itself). Answers carry ``Cache-Control: no-store``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web

from gateway import serde
from gateway.api import params
from gateway.api.params import BadRequest
from gateway.auth import Role, audit, edge_node, edges_only, requires
from gateway.imaging.png import gray_png, mask_png
from gateway.imaging.records import DeviceKeyGrant, Layer
from gateway.imaging.service import IMAGING, Imaging
from gateway.imaging.store import ImageNotFound
from gateway.registry.records import Kind, Principal, RegistryError

T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

MAX_IMAGES = 1000
NO_STORE = {"Cache-Control": "private, no-store"}
PATH_ID = r"{image_id:[0-9a-f]{32}}"


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler


async def _run(fn: Callable[..., T], *args: Any) -> T:
    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


def _imaging(request: web.Request) -> Imaging:
    return request.app[IMAGING]


@requires(Role.VIEWER)
async def list_images(request: web.Request) -> web.Response:
    patient = params.identifier(request.match_info["device"], "device")
    assert patient is not None
    start = params.time_us(request.query, "start", None)
    end = params.time_us(request.query, "end", None)
    if start is not None and end is not None and start >= end:
        raise BadRequest("start", "must be before end")
    limit = params.integer(request.query, "limit", 50, 1, MAX_IMAGES)
    found = await _run(_imaging(request).store.images, patient, start, end, limit)
    return web.json_response(serde.IMAGES.body(found), headers=NO_STORE)


@requires(Role.VIEWER)
async def get_image(request: web.Request) -> web.Response:
    image_id = request.match_info["image_id"]
    try:
        view = await _run(_imaging(request).store.image, image_id)
    except ImageNotFound:
        raise web.HTTPNotFound(reason=f"no image {image_id!r}") from None
    return web.json_response(serde.to_json(view), headers=NO_STORE)


@requires(Role.VIEWER)
async def image_png(request: web.Request) -> web.Response:
    image_id = request.match_info["image_id"]
    store = _imaging(request).store

    def render() -> bytes:
        return gray_png(store.pixels(image_id).pixels)

    try:
        body = await _run(render)
    except ImageNotFound:
        raise web.HTTPNotFound(reason=f"no image {image_id!r}") from None
    return web.Response(body=body, content_type="image/png", headers=NO_STORE)


@requires(Role.VIEWER)
async def image_mask(request: web.Request) -> web.Response:
    image_id = request.match_info["image_id"]
    layer = params.identifier(request.match_info["layer"], "layer")
    assert layer is not None
    fmt = params.choice(request.query, "format", ("json", "png")) or "json"
    store = _imaging(request).store
    try:
        view, mask = await _run(store.mask, image_id, layer)
    except ImageNotFound as exc:
        known = ", ".join(str(v) for v in Layer)
        raise web.HTTPNotFound(reason=f"{exc} (layers are {known})") from None
    if fmt == "png":
        return web.Response(body=await _run(mask_png, mask), content_type="image/png", headers=NO_STORE)
    return web.json_response(serde.to_json(view), headers=NO_STORE)


def _edge(imaging: Imaging, node: str) -> Principal:
    """The registry's record of the edge ``node`` the auth layer authenticated (its site says whose keys it
    may have); 403 when the registry does not know it as an active edge."""
    if imaging.registry is None:
        raise web.HTTPServiceUnavailable(reason="this gateway has no device registry (gateway.registry): it holds "
                                                "no device keys")
    principal = imaging.registry.get(node)
    if principal is None or principal.kind is not Kind.EDGE or not principal.active:
        raise web.HTTPForbidden(reason=f"edge {node!r} is not an active edge of the device registry, which says "
                                       "whose device keys an edge may fetch (iomt devices enrol --kind edge)")
    return principal


@edges_only
async def device_keys(request: web.Request) -> web.Response:
    """Keys of active devices of the calling edge's site: every device's newest, or ``?device=`` (and
    ``?key_id=``) for one."""
    imaging = _imaging(request)
    edge = await _run(_edge, imaging, edge_node(request))
    device = params.identifier(request.query.get("device"), "device")
    key_id = params.integer(request.query, "key_id", 0, 1, 0xFFFFFFFF) if "key_id" in request.query else None
    if key_id is not None and device is None:
        raise BadRequest("key_id", "needs device")
    grants = await _run(_grants, imaging, edge, device, key_id)
    await audit(request, "device_key.release", device or f"site:{edge.site}",
                {"keys": [[g.device, g.key_id] for g in grants]})
    return web.json_response(serde.DEVICE_KEYS.body(grants), headers=NO_STORE)


def _grants(imaging: Imaging, edge: Principal, device: str | None, key_id: int | None) -> list[DeviceKeyGrant]:
    registry = imaging.registry
    assert registry is not None
    if device is not None:
        principal = registry.get(device)
        if principal is None or principal.kind is not Kind.DEVICE:
            raise web.HTTPNotFound(reason=f"no device {device!r} in the registry")
        if principal.site != edge.site:
            raise web.HTTPForbidden(reason=f"device {device!r} is not of this edge's site {edge.site!r}")
        if not principal.active:
            raise web.HTTPForbidden(reason=f"device {device!r} is revoked")
        try:
            key = registry.device_key(device, key_id)
        except RegistryError as exc:
            raise web.HTTPNotFound(reason=str(exc)) from None
        return [DeviceKeyGrant(device, key.key_id, key.key.hex())]
    grants = []
    for principal in registry.list(Kind.DEVICE, edge.site, include_revoked=False):
        try:
            key = registry.device_key(principal.name)
        except RegistryError:
            continue  # enrolled without a key
        grants.append(DeviceKeyGrant(principal.name, key.key_id, key.key.hex()))
    return grants


ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/v1/patients/{device}/images", list_images),
    Route("GET", f"/api/v1/images/{PATH_ID}", get_image),
    Route("GET", f"/api/v1/images/{PATH_ID}/image.png", image_png),
    Route("GET", f"/api/v1/images/{PATH_ID}/masks/{{layer}}", image_mask),
    Route("GET", "/api/v1/edge/device-keys", device_keys),
)


def add_routes(app: web.Application) -> None:
    for route in ROUTES:
        app.router.add_route(route.method, route.path, route.handler)
