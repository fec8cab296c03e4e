"""Events: inferences, signal-quality findings and alerts, as JSON on the events topic."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from iomt.wire.errors import DecodeError
from iomt.wire.fields import check_finite, check_int64, check_json_tree, check_text, load_json
from iomt.wire.topics import check_identifier


class EventKind(StrEnum):
    """What an event is: a model's output, a signal-quality finding, or an alert for people."""

    INFERENCE = "inference"
    QUALITY = "quality"
    ALERT = "alert"


class Priority(StrEnum):
    """How urgent an event is, most urgent first (the order is the sort order)."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """0 for the most urgent; for sorting."""
        return _PRIORITY_RANK[self]


class AlertState(StrEnum):
    """Where an alert is in its lifecycle (set on alert events only)."""

    RAISED = "raised"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


_E = TypeVar("_E", bound=StrEnum)
_PRIORITY_RANK = {p: i for i, p in enumerate(Priority)}

#: The values of each closed set, for parameter validation and documentation.
KINDS = tuple(k.value for k in EventKind)
PRIORITIES = tuple(p.value for p in Priority)
STATES = tuple(s.value for s in AlertState)


@dataclass(frozen=True, slots=True)
class Event:
    """One finding about one device, with the model and the window it came from.

    ``event_id`` is unique per event and is what the store de-duplicates events on; ``state`` is
    set for alerts only.
    """

    device: str
    model: str
    model_version: str
    kind: EventKind
    label: str
    score: float
    window_start_us: int
    window_end_us: int
    t_us: int
    site: str = "default"
    node: str = ""
    priority: Priority = Priority.INFO
    state: AlertState | None = None
    value: float | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)
    event_id: str = field(default_factory=lambda: uuid.uuid4().hex)


_FIELDS = tuple(Event.__dataclass_fields__)


def encode_event(event: Event) -> bytes:
    """Encode an event to compact JSON (fields read directly: ``asdict`` deep-copies, and the edge
    encodes thousands of events a second)."""
    body = {name: getattr(event, name) for name in _FIELDS}
    body["detail"] = dict(event.detail)
    return json.dumps(body, separators=(",", ":"), allow_nan=False).encode()


def decode_event(payload: bytes) -> Event:
    """Decode and validate an event."""
    body = load_json(payload)
    if not isinstance(body, dict):
        raise DecodeError("json", "top level must be an object")
    known = set(Event.__dataclass_fields__)
    unknown = set(body) - known
    if unknown:
        raise DecodeError(sorted(unknown)[0], "unknown event field")
    for name in ("device", "model", "site"):
        check_identifier(name, _typed(body, name, str))
    body["kind"] = _choice(body, "kind", EventKind)
    body["priority"] = _choice(body, "priority", Priority)
    if body.get("state") is not None:
        body["state"] = _choice(body, "state", AlertState)
    for name in ("window_start_us", "window_end_us", "t_us"):
        check_int64(name, _typed(body, name, int))
    if body["window_end_us"] < body["window_start_us"]:
        raise DecodeError("window_end_us", "window ends before it starts")
    check_finite("score", _typed(body, "score", (int, float)))
    for name in ("model_version", "label", "event_id", "node"):
        check_text(name, _typed(body, name, str))
    if body.get("value") is not None:
        check_finite("value", _typed(body, "value", (int, float)))
    if not isinstance(body.get("detail", {}), dict):
        raise DecodeError("detail", "must be an object")
    check_json_tree("detail", body.get("detail", {}))
    try:
        return Event(**body)
    except TypeError as exc:
        raise DecodeError("json", f"missing event field: {exc}") from None


def _typed(body: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    if name not in body:
        raise DecodeError(name, "missing")
    value = body[name]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise DecodeError(name, f"wrong type {type(value).__name__}")
    return value


def _choice(body: dict[str, Any], name: str, choices: type[_E]) -> _E:
    value = body.get(name)
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        return choices(value)
    except ValueError:
        raise DecodeError(name, f"{value!r} is not one of {', '.join(choices)}") from None
