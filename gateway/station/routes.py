"""The station's REST API: the station view, vitals and NEWS2 trends, the patient registry and alarm limits.

Each handler declares the least role it needs (:func:`gateway.auth.requires`): viewer reads, clinician changes
limits and NEWS2 settings, admin the registry. Edits are recorded under the signed-in user. :data:`ROUTES`
lists every route (for the gateway and the OpenAPI document). Store and state calls run off the loop.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web

from gateway import serde
from gateway.api import params
from gateway.api.params import BadRequest
from gateway.auth import Role, principal, requires
from gateway.state import STATION, STORE
from gateway.station import beats, bodies, trends
from gateway.station import views as station_views
from gateway.station.records import PatientRecord
from gateway.store.records import EventQuery
from gateway.vitals import units
from gateway.vitals.limits import DEFAULTS, ConditionLimits
from gateway.vitals.news2_score import NEWS2_STREAM
from iomt.wire.events import EventKind

T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

MAX_POINTS = 10_000
MAX_RANGE_S = 7 * 86_400
DEFAULT_TREND_S = 3600.0
MAX_BEATS_RANGE_S = 600.0
VITALS_STREAM = "vitals"


async def _run(fn: Callable[..., T], *args: Any) -> T:
    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


def _now_us() -> int:
    return time.time_ns() // 1000


def _device(request: web.Request) -> str:
    device = params.identifier(request.match_info["device"], "device")
    if device is None:
        raise BadRequest("device", "missing")
    return device


async def _body(request: web.Request) -> Any:
    try:
        return await request.json(loads=json.loads) if request.can_read_body else {}
    except ValueError:
        raise BadRequest("body", "must be a JSON object") from None


@requires(Role.VIEWER)
async def get_station(request: web.Request) -> web.Response:
    view = await _run(station_views.station, request.app[STORE], request.app[STATION], _now_us())
    return web.json_response(serde.to_json(view))


@requires(Role.VIEWER)
async def list_vitals(_request: web.Request) -> web.Response:
    return web.json_response(serde.VITALS.body(units.VITALS.values()))


async def _trend(request: web.Request, stream: str) -> Any:
    device = _device(request)
    start, end = params.time_range(request.query, _now_us(), DEFAULT_TREND_S, MAX_RANGE_S)
    points = params.integer(request.query, "points", 500, 1, MAX_POINTS)
    return await _run(request.app[STORE].query_readings, device, stream, start, end, points)


@requires(Role.VIEWER)
async def patient_vitals(request: web.Request) -> web.Response:
    return web.json_response(serde.to_json(trends.vitals_trend(await _trend(request, VITALS_STREAM))))


@requires(Role.VIEWER)
async def patient_news2(request: web.Request) -> web.Response:
    return web.json_response(serde.to_json(trends.news2_trend(await _trend(request, NEWS2_STREAM))))


@requires(Role.VIEWER)
async def patient_beats(request: web.Request) -> web.Response:
    device = _device(request)
    start, end = params.time_range(request.query, _now_us(), 20.0, MAX_BEATS_RANGE_S)
    margin = 10_000_000  # an event ends after the beats it holds
    query = EventQuery(device=device, kind=EventKind.INFERENCE, model=beats.ECG_MODEL, start_us=start,
                       end_us=end + margin, limit=10_000)
    events = await _run(request.app[STORE].events, query)
    return web.json_response(serde.BEATS.body(beats.beats_of(events, start, end)))


@requires(Role.VIEWER)
async def latest_news2(request: web.Request) -> web.Response:
    latest = await _run(request.app[STORE].latest_readings, NEWS2_STREAM)
    return web.json_response(serde.NEWS2_LATEST.body(
        trends.News2Latest(device, station_views.news2_now(r)) for device, r in sorted(latest.items())))


@requires(Role.VIEWER)
async def list_registry(request: web.Request) -> web.Response:
    records = request.app[STATION].records()
    return web.json_response(serde.PATIENT_REGISTRY.body(records[d] for d in sorted(records)))


@requires(Role.VIEWER)
async def get_record(request: web.Request) -> web.Response:
    return web.json_response(serde.to_json(request.app[STATION].record(_device(request))))


def _who(request: web.Request, parsed: bodies.Body) -> str:
    """The signed-in user, under whom an edit is recorded; a ``by`` in the body must name that user."""
    user = principal(request).name
    if parsed.by is not None and parsed.by != user:
        raise web.HTTPForbidden(reason=f"by: you are signed in as {user!r}; a change is recorded under the signed-in "
                                       "user (leave out \"by\" or give your own name)")
    return user


async def _edit_record(request: web.Request, model: type[bodies.Body], action: str) -> web.Response:
    device = _device(request)
    parsed, changes = bodies.parse(model, await _body(request))
    record: PatientRecord = await _run(request.app[STATION].update_record, device, changes,
                                       _who(request, parsed), action)
    return web.json_response(serde.to_json(record))


@requires(Role.ADMIN)
async def put_record(request: web.Request) -> web.Response:
    return await _edit_record(request, bodies.RegistryEdit, "registry.update")


@requires(Role.CLINICIAN)
async def put_clinical(request: web.Request) -> web.Response:
    return await _edit_record(request, bodies.ClinicalEdit, "registry.clinical")


@requires(Role.VIEWER)
async def get_limits(request: web.Request) -> web.Response:
    return web.json_response(serde.to_json(request.app[STATION].limits(_device(request))))


@requires(Role.CLINICIAN)
async def put_limits(request: web.Request) -> web.Response:
    device = _device(request)
    station = request.app[STATION]
    parsed, _changes = bodies.parse(bodies.LimitsEdit, await _body(request))
    assert isinstance(parsed, bodies.LimitsEdit)
    changes = bodies.limit_changes(parsed, station.limits(device).limits)
    return web.json_response(serde.to_json(await _run(station.set_limits, device, changes, _who(request, parsed))))


@requires(Role.CLINICIAN)
async def reset_limits(request: web.Request) -> web.Response:
    device = _device(request)
    parsed, _changes = bodies.parse(bodies.Body, await _body(request))
    return web.json_response(serde.to_json(await _run(request.app[STATION].set_limits, device, None,
                                                      _who(request, parsed))))


@requires(Role.VIEWER)
async def limit_history(request: web.Request) -> web.Response:
    device = _device(request)
    limit = params.integer(request.query, "limit", 100, 1, 10_000)
    return web.json_response(serde.LIMIT_CHANGES.body(await _run(request.app[STATION].limit_history, device, limit)))


@requires(Role.VIEWER)
async def limit_defaults(_request: web.Request) -> web.Response:
    return web.json_response(serde.LIMIT_DEFAULTS.body(ConditionLimits(c, lim) for c, lim in DEFAULTS.items()))


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    handler: Handler


ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/v1/station", get_station),
    Route("GET", "/api/v1/vitals", list_vitals),
    Route("GET", "/api/v1/news2", latest_news2),
    Route("GET", "/api/v1/patients/{device}/vitals", patient_vitals),
    Route("GET", "/api/v1/patients/{device}/news2", patient_news2),
    Route("GET", "/api/v1/patients/{device}/beats", patient_beats),
    Route("GET", "/api/v1/patients/{device}/limits", get_limits),
    Route("PUT", "/api/v1/patients/{device}/limits", put_limits),
    Route("POST", "/api/v1/patients/{device}/limits/reset", reset_limits),
    Route("GET", "/api/v1/patients/{device}/limits/history", limit_history),
    Route("GET", "/api/v1/limits/defaults", limit_defaults),
    Route("GET", "/api/v1/patient-registry", list_registry),
    Route("GET", "/api/v1/patient-registry/{device}", get_record),
    Route("PUT", "/api/v1/patient-registry/{device}", put_record),
    Route("PUT", "/api/v1/patient-registry/{device}/clinical", put_clinical),
)


def add_routes(app: web.Application) -> None:
    for route in ROUTES:
        app.router.add_route(route.method, route.path, route.handler)
