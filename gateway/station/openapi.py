"""The station's part of the OpenAPI document: its paths (each operation's access, `x-iomt-access`, is added from
the route declarations by :func:`gateway.auth.openapi.annotate_access`).

The response schemas come from :mod:`gateway.serde` like every other; request bodies from the pydantic
models of :mod:`gateway.station.bodies`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from gateway import serde
from gateway.station import bodies
from gateway.station.records import PatientLimits, PatientRecord
from gateway.station.routes import MAX_POINTS, MAX_RANGE_S, ROUTES, Route
from gateway.station.trends import News2Trend, VitalsTrend
from gateway.station.views import StationView

_TIME = "Epoch seconds or ISO 8601 with a zone"
_ERROR = {"description": "What was wrong",
          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_DEVICE = {"name": "device", "in": "path", "required": True, "description": "Device id the patient's data arrives "
           "under", "schema": {"type": "string"}}


def _q(name: str, description: str, kind: str = "string") -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": {"type": kind}}


_RANGE = [
    _q("start", f"Range start; default end - 1 h. {_TIME}"), _q("end", f"Range end; default now. {_TIME}"),
    _q("points", f"Most points (1..{MAX_POINTS}, default 500); more readings are bucketed (mean, min, max)",
       "integer"),
]

#: (summary, response schema, parameters, request body model) per path and method.
_DOCS: dict[tuple[str, str], tuple[str, dict[str, Any], list[dict[str, Any]], type[BaseModel] | None]] = {
    ("GET", "/api/v1/station"): ("Every patient as a station tile, most urgent first (open high alarm, NEWS2 "
                                 "band, escalation, then room/bed)", serde.ref(StationView), [], None),
    ("GET", "/api/v1/vitals"): ("The vital signs, their units and the reading keys each is accepted under",
                                serde.VITALS.schema(), [], None),
    ("GET", "/api/v1/news2"): ("The latest NEWS2 of every patient", serde.NEWS2_LATEST.schema(), [], None),
    ("GET", "/api/v1/patients/{device}/vitals"): (
        f"Trends of every vital over a range (at most {MAX_RANGE_S // 86400} days), downsampled on the server",
        serde.ref(VitalsTrend), [_DEVICE, *_RANGE], None),
    ("GET", "/api/v1/patients/{device}/news2"): ("NEWS2 over a range (aggregate mean/min/max, worst band per "
                                                 "bucket)", serde.ref(News2Trend), [_DEVICE, *_RANGE], None),
    ("GET", "/api/v1/patients/{device}/beats"): (
        "Beat labels (R-peak instant, AAMI class) from the edge's ECG events, for the review strip (range at most "
        "10 min, default the last 20 s)", serde.BEATS.schema(), [_DEVICE, *_RANGE[:2]], None),
    ("GET", "/api/v1/patients/{device}/limits"): ("The alarm limits in force (condition defaults or set by a "
                                                  "clinician, with who and when)", serde.ref(PatientLimits),
                                                  [_DEVICE], None),
    ("PUT", "/api/v1/patients/{device}/limits"): ("Change some vitals' alarm limits (others keep theirs; null "
                                                  "switches one off); audited", serde.ref(PatientLimits), [_DEVICE],
                                                  bodies.LimitsEdit),
    ("POST", "/api/v1/patients/{device}/limits/reset"): ("Back to the condition's default limits; audited",
                                                         serde.ref(PatientLimits), [_DEVICE], bodies.Body),
    ("GET", "/api/v1/patients/{device}/limits/history"): ("Every change of the patient's limits, newest first",
                                                          serde.LIMIT_CHANGES.schema(),
                                                          [_DEVICE, _q("limit", "1..10000, default 100", "integer")],
                                                          None),
    ("GET", "/api/v1/limits/defaults"): ("Default alarm limits per condition", serde.LIMIT_DEFAULTS.schema(), [],
                                         None),
    ("GET", "/api/v1/patient-registry"): ("Every registered patient", serde.PATIENT_REGISTRY.schema(), [], None),
    ("GET", "/api/v1/patient-registry/{device}"): ("A patient's registry entry (the defaults when not registered)",
                                           serde.ref(PatientRecord), [_DEVICE], None),
    ("PUT", "/api/v1/patient-registry/{device}"): ("Register or change bed, room, display name, condition, ECG lead; "
                                           "audited", serde.ref(PatientRecord), [_DEVICE], bodies.RegistryEdit),
    ("PUT", "/api/v1/patient-registry/{device}/clinical"): ("Change the NEWS2 settings: SpO2 scale (1, or 2 for "
                                                    "hypercapnic respiratory failure) and supplemental oxygen; "
                                                    "audited", serde.ref(PatientRecord), [_DEVICE],
                                                    bodies.ClinicalEdit),
}


def _body_schema(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(schema.pop("$defs", {}))
    return schema


def _operation(route: Route, components: dict[str, Any]) -> dict[str, Any]:
    summary, schema, parameters, body = _DOCS[(route.method, route.path)]
    op: dict[str, Any] = {
        "summary": summary, "parameters": parameters,
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": schema}}},
                      "400": _ERROR},
    }
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": _body_schema(body, components)}}}
    return op


def paths() -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """The paths, and the schemas their request bodies refer to (for ``components/schemas``)."""
    out: dict[str, dict[str, Any]] = {}
    components: dict[str, Any] = {}
    for route in ROUTES:
        out.setdefault(route.path, {})[route.method.lower()] = _operation(route, components)
    return out, components
