"""Every record the gateway hands out — REST API and live feed — as JSON, and its JSON Schema, in one place.

Records are dataclasses. pydantic's :class:`~pydantic.TypeAdapter` derives both the JSON value and the
JSON Schema from their fields, so a field added to a record reaches the API, the live feed and the
OpenAPI document (:mod:`gateway.api.openapi`) with no second edit, and none can be dropped on the way.
Two records have a layout of their own, defined here next to their schema:

* an :class:`~gateway.alerts.Alert` is its event's fields with the alert's own merged in (``state`` is the
  alert's state, not the event's);
* a :class:`~gateway.store.records.Series` holds numpy arrays, sent as lists (values channel-major,
  rounded to 5 decimals).

Lists are sent in an envelope named for what they hold (``{"events": [...]}``): see :class:`Listing`.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import TypeAdapter

from gateway.alerts import Alert
from gateway.api.registry_records import IssuedCredentials, RegistryEntry
from gateway.audit import AuditEntry, Verification
from gateway.auth.records import CreatedUser, IssuedToken, Me, SessionInfo, UserView
from gateway.imaging.records import DeviceKeyGrant, ImageView, MaskView
from gateway.station.beats import Beat
from gateway.station.records import LimitChange, PatientLimits, PatientRecord
from gateway.station.trends import News2Latest, News2Trend, VitalsTrend
from gateway.station.views import StationView
from gateway.store.records import EdgeModel, Series
from gateway.views import EdgeView, NodeModels, PatientView, Summary
from gateway.vitals.limits import ConditionLimits
from gateway.vitals.units import Vital
from iomt.wire.events import Event

JsonObject = dict[str, Any]
#: Where the OpenAPI document keeps the schemas (``components/schemas``).
REF_TEMPLATE = "#/components/schemas/{model}"


@functools.cache
def _adapter(cls: type) -> TypeAdapter[Any]:
    return TypeAdapter(cls)


def to_json(record: object) -> JsonObject:
    """Any record the gateway returns, as a JSON object (every field, enums as their values)."""
    if isinstance(record, Alert):
        return alert_json(record)
    if isinstance(record, Series):
        return series_json(record)
    if not dataclasses.is_dataclass(record) or isinstance(record, type):
        raise TypeError(f"{type(record).__name__} is not a record")
    body: JsonObject = _adapter(type(record)).dump_python(record, mode="json")
    return body


def event_json(event: Event) -> JsonObject:
    body: JsonObject = _adapter(Event).dump_python(event, mode="json")
    return body


def alert_json(alert: Alert) -> JsonObject:
    body: JsonObject = _adapter(Alert).dump_python(alert, mode="json")
    return {**body.pop("event"), **body}


def series_json(series: Series) -> JsonObject:
    return {
        "device": series.device,
        "stream": series.stream,
        "start_us": series.start_us,
        "end_us": series.end_us,
        "samples": series.samples,
        "points": int(series.t_us.size),
        "t_us": series.t_us.tolist(),
        "values": np.round(series.values.astype(np.float64), 5).T.tolist(),
    }


_SERIES_SCHEMA: JsonObject = {
    "type": "object",
    "description": "A waveform range, downsampled on the server: `t_us[i]` is the start of bucket i, "
                   "`values[c][i]` the mean of channel c over it.",
    "properties": {
        "device": {"type": "string"},
        "stream": {"type": "string"},
        "start_us": {"type": "integer", "description": "Range start (µs since the epoch, inclusive)"},
        "end_us": {"type": "integer", "description": "Range end (µs since the epoch, inclusive)"},
        "samples": {"type": "integer", "description": "Raw samples the range held before downsampling"},
        "points": {"type": "integer", "description": "Buckets returned"},
        "t_us": {"type": "array", "items": {"type": "integer"}},
        "values": {"type": "array", "items": {"type": "array", "items": {"type": "number"}},
                   "description": "One list per channel"},
    },
}


def dumps(message: object) -> str:
    """Compact JSON text (what the live feed sends)."""
    return json.dumps(message, separators=(",", ":"))


@dataclass(frozen=True)
class Listing:
    """A list of records in an envelope: ``{key: [record, ...]}``."""

    key: str
    record: type

    def body(self, items: Iterable[object]) -> JsonObject:
        return {self.key: [to_json(item) for item in items]}

    def schema(self) -> JsonObject:
        return {"type": "object", "required": [self.key],
                "properties": {self.key: {"type": "array", "items": ref(self.record)}}}


EVENTS = Listing("events", Event)
ALERTS = Listing("alerts", Alert)
PATIENTS = Listing("patients", PatientView)
EDGES = Listing("edges", EdgeView)
MODELS = Listing("models", EdgeModel)
IMAGES = Listing("images", ImageView)
DEVICE_KEYS = Listing("keys", DeviceKeyGrant)
USERS = Listing("users", UserView)
AUDIT = Listing("entries", AuditEntry)
REGISTRY = Listing("identities", RegistryEntry)
# the central station (gateway.station)
VITALS = Listing("vitals", Vital)
NEWS2_LATEST = Listing("news2", News2Latest)
PATIENT_REGISTRY = Listing("patients", PatientRecord)
LIMIT_CHANGES = Listing("changes", LimitChange)
LIMIT_DEFAULTS = Listing("defaults", ConditionLimits)
BEATS = Listing("beats", Beat)

#: Every record with a schema of its own in the OpenAPI document (the records they hold come along).
RECORDS: tuple[type, ...] = (Event, Alert, Series, PatientView, EdgeView, NodeModels, EdgeModel, Summary,
                             Me, SessionInfo, IssuedToken, UserView, CreatedUser, AuditEntry, Verification,
                             StationView, VitalsTrend, News2Trend, News2Latest, PatientRecord, PatientLimits,
                             LimitChange, ConditionLimits, Vital, Beat,
                             RegistryEntry, IssuedCredentials, ImageView, MaskView, DeviceKeyGrant)


def ref(record: type) -> JsonObject:
    return {"$ref": REF_TEMPLATE.format(model=record.__name__)}


@functools.cache
def _schemas() -> dict[str, JsonObject]:
    derived = [cls for cls in RECORDS if cls is not Series]
    _, definitions = TypeAdapter.json_schemas(
        [(cls, "serialization", _adapter(cls)) for cls in derived], ref_template=REF_TEMPLATE
    )
    schemas: dict[str, JsonObject] = dict(definitions.get("$defs", {}))
    alert = schemas["Alert"]
    own = {name: prop for name, prop in alert["properties"].items() if name != "event"}
    own["state"] = {**own["state"], "description": "The alert's state (the event's was the state it was raised in)"}
    alert["properties"] = {**schemas["Event"]["properties"], **own}
    schemas["Series"] = _SERIES_SCHEMA
    for schema in schemas.values():
        if schema.get("type") == "object" and "properties" in schema:
            schema["required"] = list(schema["properties"])  # every field is always sent, null or not
    return schemas


def schemas() -> dict[str, JsonObject]:
    """The JSON Schemas of every record in :data:`RECORDS` and of the records and enums they hold, by name."""
    return json.loads(json.dumps(_schemas()))  # a copy the caller may change
