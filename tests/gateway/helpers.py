"""Builders of frames, events and uplink batches shared by the gateway tests."""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from iomt.wire.events import AlertState, Event, EventKind, Priority, encode_event
from iomt.wire.frames import Frame, Reading, encode_frame, encode_reading, make_frame
from iomt.wire.uplink import RecordKind, UplinkRecord, encode_batch

T0_US = 1_700_000_000_000_000
ECG_RATE = 250.0
FRAME_SAMPLES = 250


def ecg_frame(device: str, seq: int, t0_us: int = T0_US, rate: float = ECG_RATE, n: int = FRAME_SAMPLES) -> Frame:
    """A 1 s ECG-like frame whose sample i of frame ``seq`` is ``(seq * n + i) % 1000`` raw units."""
    raw = ((seq * n + np.arange(n)) % 1000).astype(np.int16)
    return make_frame(device, "ecg", seq, t0_us + round(seq * n * 1e6 / rate), rate, raw, scale=0.001)


def acc_frame(device: str, seq: int, t0_us: int = T0_US) -> Frame:
    raw = np.tile(np.array([0, 0, 1000], np.int16), (50, 1))
    return make_frame(device, "acc", seq, t0_us + seq * 1_000_000, 50.0, raw, scale=0.001)


def vitals(device: str, seq: int, t0_us: int = T0_US) -> Reading:
    return Reading(device, "vitals", seq, t0_us + seq * 1_000_000, {"spo2": 97.0, "temp": 36.8})


def event(device: str, t_us: int = T0_US, *, kind: str = "inference", model: str = "heart_rate", label: str = "ok",
          value: float | None = 72.0, node: str = "edge-1", version: str = "1.0.0", priority: str = "info") -> Event:
    return Event(
        device=device, model=model, model_version=version, kind=EventKind(kind), label=label, score=0.9,
        window_start_us=t_us - 2_000_000, window_end_us=t_us, t_us=t_us, node=node, value=value,
        priority=Priority(priority), state=AlertState.RAISED if kind == "alert" else None, site="ward-1",
    )


def fall_alert(device: str, t_us: int | None = None, node: str = "edge-1") -> Event:
    return event(device, t_us if t_us is not None else time.time_ns() // 1000, kind="alert", model="fall",
                 label="fall", value=None, node=node, priority="high")


def edge_alert(device: str, alert_id: str, state: AlertState, t_us: int, node: str = "edge-1",
               priority: Priority = Priority.HIGH) -> Event:
    """What an edge sends about one of its alerts (the wire contract): the raising event's id is the alert's
    id; a resolving event names the alert in ``detail.alert_id`` and has an id of its own."""
    e = Event(device=device, model="ecg", model_version="1.0.0", kind=EventKind.ALERT, label="ventricular_run",
              score=0.9, window_start_us=t_us - 1, window_end_us=t_us, t_us=t_us, site="ward-1", node=node,
              priority=priority, state=state, detail={"alert_id": alert_id})
    return e if state is AlertState.RESOLVED else dataclasses.replace(e, event_id=alert_id)


def uplink_body(frames: list[Frame] = (), events: list[Event] = (), readings: list[Reading] = ()) -> bytes:  # type: ignore[assignment]
    records = [UplinkRecord(RecordKind.FRAME, encode_frame(f)) for f in frames]
    records += [UplinkRecord(RecordKind.READING, encode_reading(r)) for r in readings]
    records += [UplinkRecord(RecordKind.EVENT, encode_event(e)) for e in events]
    return encode_batch(records)
