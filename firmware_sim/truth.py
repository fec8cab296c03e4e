"""Ground truth published by the simulators, so accuracy and latency are scored in the same run.

Topic: ``iomt.wire.topics.truth(site, device, kind)``; ``kind`` is ``beat``, ``rhythm``, ``activity``,
``fall``, ``impact``, ``emotion``, ``lesion`` or ``device`` (faults, battery). Payload (JSON)::

    {"v": 1, "device": "patient-0001", "kind": "beat",
     "events": [{"label": "V", "t": 1764000000.123, "t_end": 1764000000.123, ...}, ...]}

``t``/``t_end`` are epoch seconds on the device's *true* clock (clock-drift faults skew only the
frames' timestamps). Events of one kind are batched per frame to keep the message rate low. The same
records are written, one JSON object per event, to the truth file.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from iomt.transport import MessageBus
from iomt.wire import topics


@dataclass(frozen=True)
class TruthEvent:
    device: str
    kind: str
    label: str
    t_us: int
    t_end_us: int
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"label": self.label, "t": self.t_us / 1e6, "t_end": self.t_end_us / 1e6, **self.extra}


def encode_truth(device: str, kind: str, events: Iterable[TruthEvent]) -> bytes:
    body = {"v": 1, "device": device, "kind": kind, "events": [e.as_json() for e in events]}
    return json.dumps(body, separators=(",", ":")).encode()


def decode_truth(payload: bytes) -> list[TruthEvent]:
    """Parse a truth message (raises ``ValueError`` naming the field on bad input)."""
    try:
        body = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"json: {exc}") from None
    if not isinstance(body, dict) or body.get("v") != 1:
        raise ValueError("v: not a version-1 truth message")
    device, kind, events = body.get("device"), body.get("kind"), body.get("events")
    if not isinstance(device, str) or not isinstance(kind, str) or not isinstance(events, list):
        raise ValueError("device/kind/events: missing or of the wrong type")
    out = []
    for e in events:
        extra = {k: v for k, v in e.items() if k not in ("label", "t", "t_end")}
        out.append(TruthEvent(device, kind, str(e["label"]), round(e["t"] * 1e6), round(e["t_end"] * 1e6), extra))
    return out


class TruthSink:
    """Publishes truth events on the truth topics and/or appends them to a JSON-lines file."""

    def __init__(self, bus: MessageBus | None, site: str, path: Path | None = None, qos: int = 1) -> None:
        self.bus = bus
        self.site = site
        self.qos = qos
        self.published = 0
        self.events = 0
        self._file: IO[str] | None = path.open("a", encoding="utf-8") if path is not None else None
        self._lock = threading.Lock()

    def emit(self, events: list[TruthEvent]) -> None:
        if not events:
            return
        groups: dict[tuple[str, str], list[TruthEvent]] = {}
        for e in events:
            groups.setdefault((e.device, e.kind), []).append(e)
        with self._lock:
            for (device, kind), group in groups.items():
                if self.bus is not None:
                    self.bus.publish(topics.truth(self.site, device, kind), encode_truth(device, kind, group), self.qos)
                    self.published += 1
                if self._file is not None:
                    for e in group:
                        self._file.write(json.dumps({"device": device, "kind": kind, **e.as_json()}) + "\n")
            self.events += len(events)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
