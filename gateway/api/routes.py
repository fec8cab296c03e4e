"""REST handlers: patients, streams, events, alerts, edges and models. Store calls run off the loop.

The handlers parse parameters into queries, ask the store (:mod:`gateway.store.base` roles) or the views
(:mod:`gateway.views`), and answer with :mod:`gateway.serde`; filtering and ordering happen in the store.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from aiohttp import web

from gateway import serde, views
from gateway.alerts import OPEN, OPEN_STATES, AlertAction, AlertNotFound, AlertTransitionError
from gateway.api import params
from gateway.api.params import BadRequest
from gateway.auth import Role, audit, principal, requires
from gateway.live import alert_message
from gateway.state import HUB, METRICS, STORE
from gateway.store.records import AlertQuery, EventQuery
from iomt.wire.events import AlertState, EventKind, Priority
from iomt.wire.streams import WAVEFORM_STREAMS

T = TypeVar("T")

MAX_POINTS = 10_000
MAX_RANGE_S = 7 * 86_400
MAX_LIMIT = 10_000
#: What ``/api/v1/alerts?state=`` accepts: an alert state, or ``open`` (any state but resolved).
ALERT_STATE_FILTERS = (*AlertState, OPEN)


async def in_thread(request: web.Request, fn: Callable[..., T], *args: Any) -> T:
    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


def now_us() -> int:
    return time.time_ns() // 1000


@requires(Role.VIEWER)
async def list_patients(request: web.Request) -> web.Response:
    return web.json_response(serde.PATIENTS.body(await in_thread(request, views.patients, request.app[STORE])))


@requires(Role.VIEWER)
async def get_patient(request: web.Request) -> web.Response:
    device = params.identifier(request.match_info["device"], "device")
    assert device is not None
    found = await in_thread(request, views.patient, request.app[STORE], device)
    if found is None:
        raise web.HTTPNotFound(reason=f"no patient/device {device!r}")
    return web.json_response(serde.to_json(found))


@requires(Role.VIEWER)
async def get_stream(request: web.Request) -> web.Response:
    device = params.identifier(request.match_info["device"], "device")
    stream = request.match_info["stream"]
    if stream not in WAVEFORM_STREAMS:
        raise BadRequest("stream", f"{stream!r} is not a waveform stream; known: {', '.join(sorted(WAVEFORM_STREAMS))}")
    start, end = params.time_range(request.query, now_us(), 60.0, MAX_RANGE_S)
    points = params.integer(request.query, "points", 2000, 1, MAX_POINTS)
    assert device is not None
    series = await in_thread(request, request.app[STORE].query_stream, device, stream, start, end, points)
    return web.json_response(serde.series_json(series))


@requires(Role.VIEWER)
async def list_events(request: web.Request) -> web.Response:
    q = request.query
    query = EventQuery(
        device=params.identifier(q.get("device"), "device"),
        kind=params.member(q, "kind", EventKind),
        model=params.identifier(q.get("model"), "model"),
        start_us=params.time_us(q, "start", None),
        end_us=params.time_us(q, "end", None),
        limit=params.integer(q, "limit", 200, 1, MAX_LIMIT),
    )
    events = await in_thread(request, request.app[STORE].events, query)
    return web.json_response(serde.EVENTS.body(events))


def alert_query(query: Mapping[str, str]) -> AlertQuery:
    """``/api/v1/alerts`` parameters as a store query: most urgent first, then newest first."""
    state = params.choice(query, "state", ALERT_STATE_FILTERS)
    return AlertQuery(
        states=None if state is None else OPEN_STATES if state == OPEN else frozenset({AlertState(state)}),
        priority=params.member(query, "priority", Priority),
        device=params.identifier(query.get("device"), "device"),
        by_priority=True,
        limit=params.integer(query, "limit", 200, 1, MAX_LIMIT),
    )


@requires(Role.VIEWER)
async def list_alerts(request: web.Request) -> web.Response:
    query = alert_query(request.query)
    return web.json_response(serde.ALERTS.body(await in_thread(request, request.app[STORE].alerts, query)))


def alert_action_path(action: AlertAction) -> str:
    return f"/api/v1/alerts/{{event_id}}/{action.value}"


def alert_action_handler(action: AlertAction) -> Callable[[web.Request], Awaitable[web.Response]]:
    @requires(Role.CLINICIAN)
    async def handler(request: web.Request) -> web.Response:
        return await alert_action(request, action)

    handler.__name__ = f"{action.value}_alert"
    return handler


async def alert_action(request: web.Request, action: AlertAction) -> web.Response:
    event_id = request.match_info["event_id"]
    if not params.identifier(event_id, "event_id"):
        raise BadRequest("event_id", "missing")
    try:
        body = await request.json(loads=json.loads) if request.can_read_body else {}
    except ValueError:
        raise BadRequest("body", "must be JSON like {\"by\": \"nurse-ann\"}") from None
    if not isinstance(body, dict):
        raise BadRequest("by", "the body is a JSON object, like {\"by\": \"nurse-ann\"}")
    user = principal(request).name
    who = body.get("by", user)
    if not isinstance(who, str) or not who.strip() or len(who) > 64:
        raise BadRequest("by", "who acts on the alert: a non-empty string of at most 64 characters")
    if who.strip() != user:
        raise web.HTTPForbidden(reason=f"by: you are signed in as {user!r}; an action is recorded under the "
                                       "signed-in user (leave out \"by\" or give your own name)")
    try:
        alert = await in_thread(request, request.app[STORE].update_alert, event_id, action, user, now_us())
    except AlertNotFound:
        raise web.HTTPNotFound(reason=f"no alert {event_id!r}") from None
    except AlertTransitionError as exc:
        raise web.HTTPConflict(reason=str(exc)) from None
    request.app[METRICS].alert_actions.labels(action.value).inc()
    await audit(request, f"alert.{action.value}", event_id,
                {"device": alert.event.device, "model": alert.event.model, "label": alert.event.label,
                 "state": alert.state.value})
    request.app[HUB].publish([alert_message(alert)])
    return web.json_response(serde.alert_json(alert))


@requires(Role.VIEWER)
async def list_edges(request: web.Request) -> web.Response:
    return web.json_response(serde.EDGES.body(await in_thread(request, views.edges, request.app[STORE])))


@requires(Role.VIEWER)
async def edge_models(request: web.Request) -> web.Response:
    node = params.identifier(request.match_info["node"], "node")
    assert node is not None
    found = await in_thread(request, views.node_models, request.app[STORE], node)
    if found is None:
        raise web.HTTPNotFound(reason=f"no edge node {node!r}")
    return web.json_response(serde.to_json(found))


@requires(Role.VIEWER)
async def list_models(request: web.Request) -> web.Response:
    return web.json_response(serde.MODELS.body(await in_thread(request, request.app[STORE].edge_models)))


@requires(Role.VIEWER)
async def summary(request: web.Request) -> web.Response:
    return web.json_response(serde.to_json(await in_thread(request, views.summary, request.app[STORE])))


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/v1/summary", summary)
    r.add_get("/api/v1/patients", list_patients)
    r.add_get("/api/v1/devices", list_patients)  # the same records, by their other name
    r.add_get("/api/v1/patients/{device}", get_patient)
    r.add_get("/api/v1/patients/{device}/streams/{stream}", get_stream)
    r.add_get("/api/v1/events", list_events)
    r.add_get("/api/v1/alerts", list_alerts)
    for action in AlertAction:
        r.add_post(alert_action_path(action), alert_action_handler(action))
    r.add_get("/api/v1/edges", list_edges)
    r.add_get("/api/v1/edges/{node}/models", edge_models)
    r.add_get("/api/v1/models", list_models)
