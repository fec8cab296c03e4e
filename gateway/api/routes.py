"""REST handlers: patients, streams, events, alerts, edges and models. Store calls run off the loop."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web

from gateway.api import params
from gateway.api.params import BadRequest
from gateway.live import alert_message, event_json
from gateway.state import HUB, METRICS, STORE
from gateway.store.base import ALERT_ACTIONS, AlertNotFound, AlertTransitionError, EventQuery, Store
from iomt.wire.events import KINDS, PRIORITIES, STATES
from iomt.wire.streams import WAVEFORM_STREAMS

T = TypeVar("T")

MAX_POINTS = 10_000
MAX_RANGE_S = 7 * 86_400
MAX_LIMIT = 10_000
_PRIORITY_ORDER = {p: i for i, p in enumerate(PRIORITIES)}


async def in_thread(request: web.Request, fn: Callable[..., T], *args: Any) -> T:
    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


def now_us() -> int:
    return time.time_ns() // 1000


def patients(store: Store) -> list[dict[str, Any]]:
    """Every device with its streams' loss counters, current heart rate and open alerts."""
    out: dict[str, dict[str, Any]] = {}
    for d in store.devices():
        out[str(d["device"])] = {**d, "heart_rate": None, "heart_rate_t_us": None, "loss": {}, "open_alerts": 0}
    for s in store.stream_stats():
        entry = out.setdefault(s.device, {"device": s.device, "site": "default", "streams": [s.stream],
                                          "last_seen_us": None, "heart_rate": None, "heart_rate_t_us": None,
                                          "loss": {}, "open_alerts": 0})
        entry["loss"][s.stream] = {"frames": s.frames, "missing": s.missing, "last_seq": s.last_seq}
    for device, event in store.latest_events("heart_rate").items():
        if device in out:
            out[device]["heart_rate"] = event.value
            out[device]["heart_rate_t_us"] = event.t_us
    for alert in store.alerts(limit=MAX_LIMIT):
        if alert.state != "resolved" and alert.event.device in out:
            out[alert.event.device]["open_alerts"] += 1
    return sorted(out.values(), key=lambda p: str(p["device"]))


async def list_patients(request: web.Request) -> web.Response:
    return web.json_response({"patients": await in_thread(request, patients, request.app[STORE])})


async def get_patient(request: web.Request) -> web.Response:
    device = params.identifier(request.match_info["device"], "device")
    for p in await in_thread(request, patients, request.app[STORE]):
        if p["device"] == device:
            return web.json_response(p)
    raise web.HTTPNotFound(reason=f"no patient/device {device!r}")


async def get_stream(request: web.Request) -> web.Response:
    device = params.identifier(request.match_info["device"], "device")
    stream = request.match_info["stream"]
    if stream not in WAVEFORM_STREAMS:
        raise BadRequest("stream", f"{stream!r} is not a waveform stream; known: {', '.join(sorted(WAVEFORM_STREAMS))}")
    start, end = params.time_range(request.query, now_us(), 60.0, MAX_RANGE_S)
    points = params.integer(request.query, "points", 2000, 1, MAX_POINTS)
    assert device is not None
    series = await in_thread(request, request.app[STORE].query_stream, device, stream, start, end, points)
    body = series.to_json()
    body.update(start_us=start, end_us=end)
    return web.json_response(body)


async def list_events(request: web.Request) -> web.Response:
    q = request.query
    query = EventQuery(
        device=params.identifier(q.get("device"), "device"),
        kind=params.choice(q, "kind", KINDS),
        model=params.identifier(q.get("model"), "model"),
        start_us=params.time_us(q, "start", None),
        end_us=params.time_us(q, "end", None),
        limit=params.integer(q, "limit", 200, 1, MAX_LIMIT),
    )
    events = await in_thread(request, request.app[STORE].events, query)
    return web.json_response({"events": [event_json(e) for e in events]})


async def list_alerts(request: web.Request) -> web.Response:
    q = request.query
    state = params.choice(q, "state", (*STATES, "open"))
    priority = params.choice(q, "priority", PRIORITIES)
    device = params.identifier(q.get("device"), "device")
    limit = params.integer(q, "limit", 200, 1, MAX_LIMIT)
    alerts = await in_thread(
        request, request.app[STORE].alerts, None if state == "open" else state, device, MAX_LIMIT
    )
    if state == "open":
        alerts = [a for a in alerts if a.state != "resolved"]
    if priority is not None:
        alerts = [a for a in alerts if a.event.priority == priority]
    alerts.sort(key=lambda a: (_PRIORITY_ORDER.get(a.event.priority, 9), -a.event.t_us))
    return web.json_response({"alerts": [a.to_json() for a in alerts[:limit]]})


async def acknowledge_alert(request: web.Request) -> web.Response:
    return await alert_action(request, "acknowledge")


async def resolve_alert(request: web.Request) -> web.Response:
    return await alert_action(request, "resolve")


async def alert_action(request: web.Request, action: str) -> web.Response:
    assert action in ALERT_ACTIONS
    event_id = request.match_info["event_id"]
    if not params.identifier(event_id, "event_id"):
        raise BadRequest("event_id", "missing")
    try:
        body = await request.json(loads=json.loads) if request.can_read_body else {}
    except ValueError:
        raise BadRequest("body", "must be JSON like {\"by\": \"nurse-ann\"}") from None
    who = body.get("by") if isinstance(body, dict) else None
    if not isinstance(who, str) or not who.strip() or len(who) > 64:
        raise BadRequest("by", "who acts on the alert: a non-empty string of at most 64 characters")
    try:
        alert = await in_thread(request, request.app[STORE].update_alert, event_id, action, who.strip(), now_us())
    except AlertNotFound:
        raise web.HTTPNotFound(reason=f"no alert {event_id!r}") from None
    except AlertTransitionError as exc:
        raise web.HTTPConflict(reason=str(exc)) from None
    request.app[METRICS].alert_actions.labels(action).inc()
    request.app[HUB].publish([alert_message(alert)])
    return web.json_response(alert.to_json())


def edges_with_models(store: Store) -> list[dict[str, Any]]:
    edges: dict[str, dict[str, Any]] = {str(e["node"]): {**e, "models": []} for e in store.edges()}
    for m in store.edge_models():
        entry = edges.setdefault(
            str(m["node"]), {"node": m["node"], "site": None, "status": "unknown", "updated_us": None, "models": []}
        )
        entry["models"].append({"model": m["model"], "version": m["version"], "last_seen_us": m["last_seen_us"]})
    return sorted(edges.values(), key=lambda e: str(e["node"]))


async def list_edges(request: web.Request) -> web.Response:
    return web.json_response({"edges": await in_thread(request, edges_with_models, request.app[STORE])})


async def edge_models(request: web.Request) -> web.Response:
    node = params.identifier(request.match_info["node"], "node")
    for edge in await in_thread(request, edges_with_models, request.app[STORE]):
        if edge["node"] == node:
            return web.json_response({"node": node, "models": edge["models"]})
    raise web.HTTPNotFound(reason=f"no edge node {node!r}")


async def list_models(request: web.Request) -> web.Response:
    return web.json_response({"models": await in_thread(request, request.app[STORE].edge_models)})


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/v1/patients", list_patients)
    r.add_get("/api/v1/devices", list_patients)  # the same records, by their other name
    r.add_get("/api/v1/patients/{device}", get_patient)
    r.add_get("/api/v1/patients/{device}/streams/{stream}", get_stream)
    r.add_get("/api/v1/events", list_events)
    r.add_get("/api/v1/alerts", list_alerts)
    r.add_post("/api/v1/alerts/{event_id}/acknowledge", acknowledge_alert)
    r.add_post("/api/v1/alerts/{event_id}/resolve", resolve_alert)
    r.add_get("/api/v1/edges", list_edges)
    r.add_get("/api/v1/edges/{node}/models", edge_models)
    r.add_get("/api/v1/models", list_models)
