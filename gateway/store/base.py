"""The store interface every backend implements, and the records it accepts and returns.

Both backends (:mod:`gateway.store.sqlite`, :mod:`gateway.store.influx`) pass one contract suite
(``tests/gateway/test_store_contract.py``). Every method is synchronous and thread-safe: the
gateway calls them from worker threads, never on its event loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from iomt.wire.deadletter import DeadLetter
from iomt.wire.events import Event
from iomt.wire.frames import Frame, Reading

#: What ``count`` accepts.
COUNTABLE = ("frames", "readings", "events", "deadletters", "alerts")
ALERT_ACTIONS = ("acknowledge", "resolve")


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
    """What a committed write did: new rows, and redeliveries it recognised and skipped."""

    stored: int
    duplicates: int


@dataclass(frozen=True, slots=True)
class StreamStats:
    device: str
    stream: str
    frames: int
    first_seq: int
    last_seq: int
    duplicates: int

    @property
    def missing(self) -> int:
        """Sequence numbers between the first and last stored that are not in the store."""
        return (self.last_seq - self.first_seq + 1) - (self.frames - self.duplicates)


@dataclass(frozen=True, slots=True)
class LatencyStats:
    count: int
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None


@dataclass(frozen=True, slots=True)
class Series:
    """A stream over a time range: ``t_us`` (n,) int64 bucket starts, ``values`` (n, channels) float32.

    ``samples`` is how many raw samples the range held before downsampling.
    """

    device: str
    stream: str
    t_us: np.ndarray
    values: np.ndarray
    samples: int

    def to_json(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "stream": self.stream,
            "samples": self.samples,
            "points": int(self.t_us.size),
            "t_us": self.t_us.tolist(),
            "values": np.round(self.values.astype(np.float64), 5).T.tolist(),
        }


@dataclass(frozen=True, slots=True)
class Alert:
    """An alert event and what people did about it."""

    event: Event
    state: str
    acknowledged_by: str | None = None
    acknowledged_us: int | None = None
    resolved_by: str | None = None
    resolved_us: int | None = None

    def to_json(self) -> dict[str, Any]:
        e = self.event
        return {
            "event_id": e.event_id, "device": e.device, "site": e.site, "node": e.node, "model": e.model,
            "model_version": e.model_version, "label": e.label, "score": e.score, "priority": e.priority,
            "t_us": e.t_us, "window_start_us": e.window_start_us, "window_end_us": e.window_end_us,
            "state": self.state, "acknowledged_by": self.acknowledged_by, "acknowledged_us": self.acknowledged_us,
            "resolved_by": self.resolved_by, "resolved_us": self.resolved_us,
        }


class AlertNotFound(LookupError):
    pass


class AlertTransitionError(ValueError):
    """An alert cannot go from its state to the one asked (e.g. acknowledging a resolved alert)."""


class StoreUnavailable(RuntimeError):
    """The backend cannot be reached now; nothing of the batch was acknowledged, retry later."""


@dataclass(frozen=True, slots=True)
class EventQuery:
    device: str | None = None
    kind: str | None = None
    model: str | None = None
    start_us: int | None = None
    end_us: int | None = None
    limit: int = 500


@dataclass
class Retention:
    """How long raw data is kept (``None`` keeps it forever)."""

    waveform_days: float | None = None
    events_days: float | None = None


class Store(Protocol):
    """A time-series store. ``write`` returns only after the batch is committed."""

    def write(self, batch: WriteBatch) -> WriteResult: ...

    def stream_stats(self) -> list[StreamStats]: ...

    def stored_sequences(self, device: str, stream: str) -> list[int]: ...

    def latest_events(self, model: str) -> dict[str, Event]: ...

    def frame_latency(self) -> LatencyStats: ...

    def count(self, table: str) -> int: ...

    def set_edge_status(self, node: str, site: str, status: str, t_us: int) -> None: ...

    def edges(self) -> list[dict[str, object]]: ...

    def devices(self) -> list[dict[str, object]]:
        """Every device seen: ``device``, ``site``, ``streams`` (sorted), ``last_seen_us``."""
        ...

    def edge_models(self) -> list[dict[str, object]]:
        """The model versions each edge node used: ``node``, ``model``, ``version``, ``last_seen_us``."""
        ...

    def query_stream(self, device: str, stream: str, start_us: int, end_us: int, max_points: int) -> Series:
        """A waveform between two device instants, downsampled to at most ``max_points`` buckets."""
        ...

    def events(self, query: EventQuery) -> list[Event]:
        """Events matching ``query``, newest first."""
        ...

    def alerts(self, state: str | None = None, device: str | None = None, limit: int = 500) -> list[Alert]:
        """Alerts, newest first."""
        ...

    def update_alert(self, event_id: str, action: str, who: str, t_us: int) -> Alert:
        """Acknowledge or resolve an alert; raises :class:`AlertNotFound` / :class:`AlertTransitionError`."""
        ...

    def prune(self, now_us: int) -> int:
        """Apply the retention settings; returns how many records were removed (0 where the server does it)."""
        ...

    def close(self) -> None: ...


def next_alert_state(current: str, action: str) -> str:
    """The state after ``action``; raises :class:`AlertTransitionError` when it makes no sense."""
    if action not in ALERT_ACTIONS:
        raise AlertTransitionError(f"unknown action {action!r}; use one of {', '.join(ALERT_ACTIONS)}")
    if current == "resolved":
        raise AlertTransitionError(f"the alert is already resolved; cannot {action} it")
    if action == "acknowledge" and current == "acknowledged":
        raise AlertTransitionError("the alert is already acknowledged")
    return "acknowledged" if action == "acknowledge" else "resolved"


def downsample(t_us: np.ndarray, values: np.ndarray, start_us: int, end_us: int, max_points: int) -> tuple[
    np.ndarray, np.ndarray
]:
    """Bucket means over ``[start_us, end_us]`` split into ``max_points`` equal buckets; empty buckets are dropped.

    When the range holds no more samples than ``max_points`` the samples come back unchanged.
    """
    mask = (t_us >= start_us) & (t_us <= end_us)
    t = t_us[mask]
    v = values[mask]
    if t.size <= max_points:
        return t.astype(np.int64), v.astype(np.float32)
    width = (end_us - start_us + 1) / max_points
    index = np.minimum(((t - start_us) / width).astype(np.int64), max_points - 1)
    counts = np.bincount(index, minlength=max_points)
    keep = counts > 0
    sums = np.stack(
        [np.bincount(index, weights=v[:, c].astype(np.float64), minlength=max_points) for c in range(v.shape[1])],
        axis=1,
    )
    means = (sums[keep] / counts[keep, None]).astype(np.float32)
    starts = (start_us + np.arange(max_points)[keep] * width).astype(np.int64)
    return starts, means


def frames_to_samples(frames: Sequence[tuple[int, float, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate ``(t0_us, rate, values)`` blocks into per-sample times and values."""
    if not frames:
        return np.zeros(0, np.int64), np.zeros((0, 1), np.float32)
    times = [t0 + np.round(np.arange(v.shape[0]) * (1e6 / rate)).astype(np.int64) for t0, rate, v in frames]
    return np.concatenate(times), np.concatenate([v for _, _, v in frames])
