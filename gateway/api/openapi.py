"""The OpenAPI 3.1 document of the gateway's HTTP API, served at ``/api/v1/openapi.json``.

The response schemas are not written here: they come from :mod:`gateway.serde`, which derives them
from the same records it serialises; the closed sets of the query parameters come from their enums.
"""

from __future__ import annotations

from typing import Any

from gateway import serde
from gateway.alerts import OPEN, Alert, AlertAction
from gateway.api.registry_openapi import registry_paths
from gateway.api.routes import ALERT_STATE_FILTERS, MAX_LIMIT, MAX_POINTS, alert_action_path
from gateway.auth.openapi import auth_paths
from gateway.imaging.openapi import paths as imaging_paths
from gateway.station.openapi import paths as station_paths
from gateway.store.records import Series
from gateway.views import NodeModels, PatientView, Summary
from iomt.wire.events import EventKind, Priority

OPENAPI_PATH = "/api/v1/openapi.json"

_ERROR = {
    "description": "What was wrong",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}
_OBJECT: dict[str, Any] = {"type": "object"}


def _ok(schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": "OK", "content": {"application/json": {"schema": schema}}}


def _q(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema or {"type": "string"}}


def _p(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description, "schema": {"type": "string"}}


def _one_of(values: Any) -> str:
    return " | ".join(str(v) for v in values)


def _enum(values: Any) -> dict[str, Any]:
    return {"type": "string", "enum": [str(v) for v in values]}


_TIME = "Epoch seconds (e.g. 1700000000.5) or ISO 8601 with a zone (2024-01-01T00:00:00Z)"
_LIMIT = _q("limit", f"1..{MAX_LIMIT}, default 200", {"type": "integer"})


def _get(summary: str, body: dict[str, Any], parameters: list[dict[str, Any]] | None = None,
         errors: tuple[int, ...] = (400,)) -> dict[str, Any]:
    return {"get": {"summary": summary, "parameters": parameters or [],
                    "responses": {"200": _ok(body), **{str(c): _ERROR for c in errors}}}}


def _alert_action(action: AlertAction) -> dict[str, Any]:
    return {"post": {
        "summary": f"{action.value.capitalize()} an alert, recording who and when",
        "parameters": [_p("event_id", "The alert's event id")],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["by"], "properties": {"by": {"type": "string", "maxLength": 64}}}}}},
        "responses": {"200": _ok(serde.ref(Alert)), "400": _ERROR, "404": _ERROR,
                      "409": {"description": "The alert's state does not allow it (e.g. already resolved)",
                              "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}},
    }}


def openapi_document() -> dict[str, Any]:
    station, station_schemas = station_paths()
    paths: dict[str, Any] = {
        "/healthz": _get("Liveness", {"type": "object", "properties": {"status": {"type": "string"}}}, errors=()),
        "/metrics": {"get": {"summary": "Prometheus metrics of the gateway and its store",
                             "responses": {"200": {"description": "Prometheus text exposition format"}}}},
        "/api/v1/uplink": {"post": {
            "summary": "Store a batch from an edge node; 200 only after the store committed it",
            "parameters": [{"name": "X-Iomt-Node", "in": "header", "required": False, "schema": {"type": "string"},
                            "description": "The sending edge node; must be the node its token names"}],
            "requestBody": {"required": True, "content": {"application/x-iomt-uplink": {
                "schema": {"type": "string", "format": "binary"}}}},
            "responses": {"200": {"description": "Committed", "content": {"application/json": {"schema": {
                "type": "object", "properties": {"stored": {"type": "integer"}, "duplicates": {"type": "integer"},
                                                 "rejected": {"type": "integer"}}}}}},
                          "400": _ERROR, "413": _ERROR,
                          "503": {"description": "The store is unavailable; nothing was committed, retry"}},
        }},
        "/api/v1/summary": _get("Patients, totals (duplicates refused included) and edges in one call "
                                "(dashboard status line)", serde.ref(Summary), errors=()),
        "/api/v1/patients": _get("Patients/devices with streams, loss counters, heart rate, open alerts",
                                 serde.PATIENTS.schema(), errors=()),
        "/api/v1/devices": _get("Same as /api/v1/patients (a patient is identified by the device id)",
                                serde.PATIENTS.schema(), errors=()),
        "/api/v1/patients/{device}": _get("One patient/device", serde.ref(PatientView), [_p("device", "Device id")],
                                          errors=(400, 404)),
        "/api/v1/patients/{device}/streams/{stream}": _get(
            "A waveform over a time range, downsampled on the server to at most `points` bucket means",
            serde.ref(Series),
            [_p("device", "Device id"), _p("stream", "Waveform stream (ecg, acc, ...)"),
             _q("start", f"Range start; default end - 60 s. {_TIME}"), _q("end", f"Range end; default now. {_TIME}"),
             _q("points", f"Most points returned (1..{MAX_POINTS}, default 2000)", {"type": "integer"})],
        ),
        "/api/v1/events": _get("Events, newest first", serde.EVENTS.schema(), [
            _q("device", "Device id"), _q("kind", _one_of(EventKind), _enum(EventKind)), _q("model", "Model name"),
            _q("start", _TIME), _q("end", _TIME), _LIMIT]),
        "/api/v1/alerts": _get("Alerts by priority (high first), then newest first", serde.ALERTS.schema(), [
            _q("state", f"{_one_of(ALERT_STATE_FILTERS)} ({OPEN} = not resolved)", _enum(ALERT_STATE_FILTERS)),
            _q("priority", _one_of(Priority), _enum(Priority)), _q("device", "Device id"), _LIMIT]),
        **{alert_action_path(action): _alert_action(action) for action in AlertAction},
        "/api/v1/edges": _get("Edge nodes: online/offline (from their availability topic) and models in use",
                              serde.EDGES.schema(), errors=()),
        "/api/v1/edges/{node}/models": _get("Models (name, version) an edge node runs", serde.ref(NodeModels),
                                            [_p("node", "Edge node id")], errors=(400, 404)),
        "/api/v1/models": _get("Every (edge node, model, version) seen", serde.MODELS.schema(), errors=()),
        "/api/v1/live": {"get": {
            "summary": "WebSocket live feed: JSON messages of type wave (decimated), events and alert",
            "responses": {"101": {"description": "Switching to WebSocket"}}}},
        **station,
        **imaging_paths(),
        OPENAPI_PATH: _get("This document", _OBJECT, errors=()),
        "/": {"get": {"summary": "The live dashboard (HTML)", "responses": {"200": {"description": "HTML"}}}},
        **auth_paths(),
        **registry_paths(),
    }
    schemas = {**station_schemas, **serde.schemas()}
    schemas["Error"] = {"type": "object", "required": ["error", "status"],
                        "properties": {"error": {"type": "string"}, "status": {"type": "integer"}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "IoMT gateway API", "version": "1"},
        "paths": paths,
        "components": {"schemas": schemas},
    }
