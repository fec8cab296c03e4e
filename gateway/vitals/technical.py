"""Technical alarms: what makes the numbers on a tile untrustworthy, as opposed to what is wrong with
the patient (clinical alarms).

Where each comes from:

================  ==========================================================================  ========
alarm             source                                                                      priority
================  ==========================================================================  ========
lead_off          the edge's signal-quality event (``edge/quality.py``), per stream          medium
flat_line         the same (no signal on the stream: check the patient and the sensor)        medium
saturation        the same (the signal clips)                                                 low
motion_artifact   the same (beats buried in movement)                                         low
device_removed    any event labelled so (the fall work's technical event), per stream         medium
battery_low       the device's ``status`` stream, ``battery_pct`` below the low threshold     low
battery_critical  the same, below the critical threshold                                      medium
no_data           the gateway: a stream that delivered before stopped for longer than allowed  medium
edge_offline      the gateway: the patient's edge node announced "offline" (or its last will)  medium
<model>_not_      a model's own quality event: its input cannot be analysed (the emotion      low
analysed          model's ``no_ppg``, ``eda_flat``...), until its ``analysed`` event
================  ==========================================================================  ========

A quality problem clears with the edge's ``signal_ok`` for the stream (a removed device also with
``device_worn``). ``no_data`` is not raised while the patient's edge is offline: that is the cause, and
``edge_offline`` says it ("not analysed").
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from iomt.wire.events import Event, EventKind, Priority


class Technical(StrEnum):
    LEAD_OFF = "lead_off"
    FLAT_LINE = "flat_line"
    SATURATION = "saturation"
    MOTION_ARTIFACT = "motion_artifact"
    DEVICE_REMOVED = "device_removed"
    BATTERY_LOW = "battery_low"
    BATTERY_CRITICAL = "battery_critical"
    NO_DATA = "no_data"
    EDGE_OFFLINE = "edge_offline"
    NOT_ANALYSED = "not_analysed"


PRIORITY: Mapping[Technical, Priority] = {
    Technical.LEAD_OFF: Priority.MEDIUM,
    Technical.FLAT_LINE: Priority.MEDIUM,
    Technical.SATURATION: Priority.LOW,
    Technical.MOTION_ARTIFACT: Priority.LOW,
    Technical.DEVICE_REMOVED: Priority.MEDIUM,
    Technical.BATTERY_LOW: Priority.LOW,
    Technical.BATTERY_CRITICAL: Priority.MEDIUM,
    Technical.NO_DATA: Priority.MEDIUM,
    Technical.EDGE_OFFLINE: Priority.MEDIUM,
    Technical.NOT_ANALYSED: Priority.LOW,
}

#: Problems an event reports for one stream.
STREAM_PROBLEMS = (Technical.LEAD_OFF, Technical.FLAT_LINE, Technical.SATURATION, Technical.MOTION_ARTIFACT,
                   Technical.DEVICE_REMOVED)
#: Labels that end a stream's problem.
CLEARING_LABELS = frozenset({"signal_ok", "device_worn"})
#: The label of a model's quality event when its input can be analysed again (``edge.emotion_pipeline``).
ANALYSED = "analysed"
#: The stream a problem is on when its event does not say (``detail.stream``).
DEFAULT_STREAM = {Technical.DEVICE_REMOVED: "acc"}
#: Battery thresholds (%) and how far above one the level must come back to clear it.
BATTERY_LOW_PCT = 20.0
BATTERY_CRITICAL_PCT = 10.0
BATTERY_DEADBAND_PCT = 5.0


def stream_problem(event: Event) -> tuple[str, Technical | None] | None:
    """``(stream, problem)`` an event reports: a problem starts (a quality event labelled with one, or any event
    labelled ``device_removed``), or ends (a quality event labelled ``signal_ok``/``device_worn``: problem
    ``None``); ``None`` for other events (an edge's own alert keeps its own lifecycle)."""
    stream = event.detail.get("stream")
    if event.label in STREAM_PROBLEMS and (event.kind == EventKind.QUALITY
                                           or event.label == Technical.DEVICE_REMOVED):
        problem = Technical(event.label)
        return (stream if isinstance(stream, str) else DEFAULT_STREAM.get(problem, "ecg")), problem
    if event.kind == EventKind.QUALITY and event.label in CLEARING_LABELS and isinstance(stream, str):
        return stream, None
    return None


def battery_levels(pct: float, low: float = BATTERY_LOW_PCT, critical: float = BATTERY_CRITICAL_PCT,
                   deadband: float = BATTERY_DEADBAND_PCT) -> tuple[int, int]:
    """(enter, hold) level of a battery percentage: 0 fine, 1 low, 2 critical."""
    enter = 2 if pct < critical else 1 if pct < low else 0
    hold = 2 if pct < critical + deadband else 1 if pct < low + deadband else 0
    return enter, hold


def model_problem(event: Event) -> tuple[str, bool] | None:
    """``(model, problem)`` a model's own quality event reports (``EventFactory.model_quality``): its input
    cannot be analysed (``True``; the label says why, e.g. ``no_ppg``) or can be again (``False``, label
    ``analysed``); ``None`` for other events. A stream's quality event names its stream and is not one."""
    if event.kind != EventKind.QUALITY or "stream" in event.detail or event.label in STREAM_PROBLEMS \
            or event.label in CLEARING_LABELS:
        return None
    return event.model, event.label != ANALYSED
