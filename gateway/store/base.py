"""The store interface every backend implements, and the records it accepts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from iomt.wire.deadletter import DeadLetter
from iomt.wire.events import Event
from iomt.wire.frames import Frame, Reading


@dataclass(frozen=True, slots=True)
class WriteBatch:
    frames: Sequence[Frame] = ()
    readings: Sequence[Reading] = ()
    events: Sequence[Event] = ()
    deadletters: Sequence[DeadLetter] = ()


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


@dataclass
class StoreTotals:
    frames: int = 0
    readings: int = 0
    events: int = 0
    deadletters: int = 0
    duplicates_skipped: int = 0
    per_stream: list[StreamStats] = field(default_factory=list)


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

    def close(self) -> None: ...
