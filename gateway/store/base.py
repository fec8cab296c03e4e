"""What a store does, as four roles, and the store every backend is: all four plus retention.

* :class:`SampleStore` — writes batches (frames, readings, events, dead letters) and reads them back;
* :class:`StreamAccounting` — per-stream counters (stored, missing, refused duplicates), row counts and
  the storage latency;
* :class:`FleetRegistry` — edge nodes, devices and the model versions each edge used;
* :class:`AlertWorkflow` — alerts and the people acting on them (the lifecycle is :mod:`gateway.alerts`).

Code that needs one role takes that role. Both backends (:mod:`gateway.store.sqlite`,
:mod:`gateway.store.influx`) pass one contract suite (``tests/gateway/test_store_contract.py``). Every
method is synchronous and thread-safe: the gateway calls them from worker threads, never on its event loop.
"""

from __future__ import annotations

from typing import Protocol

from gateway.alerts import Alert, AlertAction
from gateway.store.records import (
    AlertQuery,
    DeviceInfo,
    EdgeModel,
    EdgeStatus,
    EventQuery,
    LatencyStats,
    ReadingSeries,
    Series,
    StreamStats,
    Table,
    WriteBatch,
    WriteResult,
)
from iomt.wire.events import Event
from iomt.wire.frames import Reading


class StoreUnavailable(RuntimeError):
    """The backend cannot be reached now; nothing of the batch was acknowledged, retry later."""


class SampleStore(Protocol):
    """Writes batches and reads back what devices measured and models found."""

    def write(self, batch: WriteBatch) -> WriteResult:
        """Store a batch; returns only after it is committed.

        A frame or reading already stored (same device, stream and sequence number) and an event already
        stored (same id) are refused and counted as duplicates. Alert events open alerts and an edge's
        resolution closes the alert it names, in the same transaction (:func:`gateway.alerts.apply`).
        """
        ...

    def query_stream(self, device: str, stream: str, start_us: int, end_us: int, max_points: int) -> Series:
        """A waveform between two device instants, downsampled to at most ``max_points`` buckets."""
        ...

    def query_readings(self, device: str, stream: str, start_us: int, end_us: int, max_points: int) -> ReadingSeries:
        """Readings (named values) of one stream between two device instants, both inclusive; more than
        ``max_points`` are bucketed (mean, min, max per name; :func:`gateway.store.series.readings_series`)."""
        ...

    def latest_readings(self, stream: str) -> dict[str, Reading]:
        """The newest reading of ``stream`` per device (by device time)."""
        ...

    def events(self, query: EventQuery) -> list[Event]:
        """Events matching ``query``, newest first."""
        ...

    def latest_events(self, model: str) -> dict[str, Event]:
        """The newest event of ``model`` per device."""
        ...


class StreamAccounting(Protocol):
    """Counters over what was stored and refused."""

    def stream_stats(self) -> list[StreamStats]:
        """Every data stream (frames and readings) with its counters, by device and stream."""
        ...

    def count(self, table: Table) -> int:
        """Records held in ``table``; raises :class:`ValueError` for a name that is not a :class:`Table`."""
        ...

    def frame_latency(self) -> LatencyStats:
        """Device time of each stored frame's last sample to the commit of the write that stored it."""
        ...


class FleetRegistry(Protocol):
    """The edge nodes, the devices and the model versions in use."""

    def set_edge_status(self, node: str, site: str, status: str, t_us: int) -> None: ...

    def edges(self) -> list[EdgeStatus]:
        """Every edge node's latest status, by node."""
        ...

    def devices(self) -> list[DeviceInfo]:
        """Every device seen, by device."""
        ...

    def edge_models(self) -> list[EdgeModel]:
        """The model versions each edge node used, by node and model."""
        ...


class AlertWorkflow(Protocol):
    """Alerts and what people do about them."""

    def alerts(self, query: AlertQuery) -> list[Alert]:
        """Alerts matching ``query``, filtered and ordered by the store."""
        ...

    def update_alert(self, event_id: str, action: AlertAction, who: str, t_us: int) -> Alert:
        """Apply ``action`` in one transaction; raises :class:`~gateway.alerts.AlertNotFound` /
        :class:`~gateway.alerts.AlertTransitionError` and then changes nothing."""
        ...


class Store(SampleStore, StreamAccounting, FleetRegistry, AlertWorkflow, Protocol):
    """A backend: every role, plus retention and closing."""

    def prune(self, now_us: int) -> int:
        """Apply the retention settings; returns how many records were removed (0 where the server does it)."""
        ...

    def close(self) -> None: ...
