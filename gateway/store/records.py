"""The records the stores accept and return: typed, frozen, the same for every backend."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from gateway.alerts import Alert, AlertUpdate
from iomt.wire.deadletter import DeadLetter
from iomt.wire.events import AlertState, Event, EventKind, Priority
from iomt.wire.frames import Frame, Reading


class Table(StrEnum):
    """What :meth:`StreamAccounting.count` counts."""

    FRAMES = "frames"
    READINGS = "readings"
    EVENTS = "events"
    DEADLETTERS = "deadletters"
    ALERTS = "alerts"


@dataclass(frozen=True, slots=True)
class WriteBatch:
    frames: Sequence[Frame] = ()
    readings: Sequence[Reading] = ()
    events: Sequence[Event] = ()
    deadletters: Sequence[DeadLetter] = ()

    def __len__(self) -> int:
        return len(self.frames) + len(self.readings) + len(self.events) + len(self.deadletters)


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What a committed write did: new rows, redeliveries it recognised and refused, the alerts it
    raised or changed (an edge's resolution), as they now stand in the store, and the edge resolutions
    it refused because the alert was raised by another node (stored as events, not applied)."""

    stored: int
    duplicates: int
    alerts: tuple[Alert, ...] = ()
    refused: tuple[AlertUpdate, ...] = ()


@dataclass(frozen=True, slots=True)
class StreamStats:
    """One stream's accounting: records stored, the sequence range they span, redeliveries refused.

    A stream is counted per session of its device (boot id, wire v2; :mod:`gateway.store.sessions`):
    ``first_seq``/``last_seq`` are the live session's, ``sessions`` how many the records belong to,
    ``jumps`` the records whose number lies implausibly far outside their session's run (stored, but
    not stretching it), ``missing_count`` the numbers missing inside every session's run.
    """

    device: str
    stream: str
    frames: int
    first_seq: int
    last_seq: int
    duplicates: int
    sessions: int = 1
    jumps: int = 0
    missing_count: int | None = None

    @property
    def missing(self) -> int:
        """Sequence numbers inside each session's run that are not in the store.

        ``frames`` counts distinct stored records (a duplicate is refused, never stored), so the refused
        ``duplicates`` do not enter into it. Without ``missing_count``: one session, first..last.
        """
        if self.missing_count is not None:
            return self.missing_count
        return (self.last_seq - self.first_seq + 1) - self.frames


@dataclass(frozen=True, slots=True)
class LatencyStats:
    count: int
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None


@dataclass(frozen=True, slots=True)
class Series:
    """A stream over ``[start_us, end_us]``: ``t_us`` (n,) int64 bucket starts, ``values`` (n, channels) float32.

    ``samples`` is how many raw samples the range held before downsampling.
    """

    device: str
    stream: str
    start_us: int
    end_us: int
    t_us: np.ndarray
    values: np.ndarray
    samples: int


@dataclass(frozen=True, slots=True)
class ReadingSeries:
    """Named low-rate values (vital signs, scores) of one stream over ``[start_us, end_us]``.

    ``t_us`` (n,) int64: each reading's instant when the range held no more than the points asked for,
    else the start of each non-empty bucket of equal width. ``mean``/``low``/``high`` (n, len(names))
    float64: per bucket, the mean, minimum and maximum of each name (for a single reading all three are its
    value); NaN where a bucket holds no value of that name. ``readings`` counts the raw readings in range.
    """

    device: str
    stream: str
    start_us: int
    end_us: int
    names: tuple[str, ...]
    t_us: np.ndarray
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    readings: int


@dataclass(frozen=True, slots=True)
class EventQuery:
    device: str | None = None
    kind: EventKind | None = None
    model: str | None = None
    start_us: int | None = None
    end_us: int | None = None
    limit: int = 500


@dataclass(frozen=True, slots=True)
class AlertQuery:
    """Which alerts, in which order: newest first, or by priority (most urgent first) and then newest first."""

    states: frozenset[AlertState] | None = None
    priority: Priority | None = None
    device: str | None = None
    event_id: str | None = None
    by_priority: bool = False
    limit: int = 500

    def __post_init__(self) -> None:
        if self.states is not None and not isinstance(self.states, frozenset):
            object.__setattr__(self, "states", frozenset(AlertState(s) for s in self.states))


@dataclass(frozen=True, slots=True)
class EdgeStatus:
    """An edge node's last availability message (``online``/``offline``) and when it came."""

    node: str
    site: str
    status: str
    updated_us: int


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """A device seen by the store: its site, data streams (sorted) and last record's device time."""

    device: str
    site: str
    streams: tuple[str, ...]
    last_seen_us: int


@dataclass(frozen=True, slots=True)
class EdgeModel:
    """A model version an edge node used, and the device time of its newest event."""

    node: str
    model: str
    version: str
    last_seen_us: int


@dataclass
class Retention:
    """How long raw data is kept (``None`` keeps it forever)."""

    waveform_days: float | None = None
    events_days: float | None = None
