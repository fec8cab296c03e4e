"""The embedded SQLite store (WAL). De-duplicates on (device, stream, boot, seq) and on event id.

Waveforms are kept as the frames' sample blocks (one row per frame, a "chunk"), which is what makes
ingest cheap; queries decode the blocks they touch. Each committed batch records the instant its
commit returned, so storage latency is measured, not assumed. Every write is one transaction: rows,
per-stream counters (refused duplicates included), registry and alert changes commit together.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np

from gateway import alerts
from gateway.alerts import Alert, AlertAction, AlertNotFound, AlertUpdate
from gateway.sqlite_tx import immediate
from gateway.store import event_cells, sqlite_readings
from gateway.store.records import (
    AlertQuery,
    DeviceInfo,
    EdgeModel,
    EdgeStatus,
    EventQuery,
    LatencyStats,
    ReadingSeries,
    Retention,
    Series,
    StreamStats,
    Table,
    WriteBatch,
    WriteResult,
)
from gateway.store.series import readings_series, series_of
from gateway.store.sqlite_counters import counted_streams, insert_counted, rebuild_counters
from gateway.store.sqlite_schema import (
    ALERT_COLUMNS,
    EVENT_COLUMNS,
    FRAME_COLUMNS,
    INSERT_EVENT,
    PRIORITY_RANK,
    READING_COLUMNS,
    SAVE_ALERT,
    SCHEMA,
    SELECT_ALERTS,
    alert_of,
    event_of,
    migrate_sessions,
)
from iomt.wire.events import Event
from iomt.wire.frames import Reading
from iomt.wire.streams import is_reading_stream

_DAY_US = 86_400_000_000


def _latest(pairs: Iterable[tuple[tuple[str, ...], int, Any]]) -> dict[tuple[str, ...], tuple[int, Any]]:
    """Newest ``(t, extra)`` per key."""
    out: dict[tuple[str, ...], tuple[int, Any]] = {}
    for key, t, extra in pairs:
        if key not in out or t > out[key][0]:
            out[key] = (t, extra)
    return out


class SqliteStore:
    """Thread-safe: every call takes one lock and runs on one connection."""

    def __init__(self, path: Path | str, synchronous: str = "NORMAL", retention: Retention | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.retention = retention or Retention()
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={synchronous}")
        self._db.executescript(SCHEMA)
        if migrate_sessions(self._db):
            self._db.executescript(SCHEMA)  # the new tables' indexes, the per-session counters
        counted = self._db.execute("SELECT COUNT(*) FROM stream_counters").fetchone()[0]
        if not counted and self._db.execute(
                "SELECT EXISTS (SELECT 1 FROM frames) OR EXISTS (SELECT 1 FROM readings)").fetchone()[0]:
            rebuild_counters(self._db)

    # -- samples -------------------------------------------------------------------------------------
    def write(self, batch: WriteBatch) -> WriteResult:
        seen = _latest(
            [((f.device, f.stream), f.t_last_us, None) for f in batch.frames]
            + [((r.device, r.stream), r.t_us, None) for r in batch.readings]
            + [((e.device, "events"), e.t_us, e.site) for e in batch.events]
        )
        models = _latest([((e.node, e.model), e.t_us, e.model_version) for e in batch.events if e.node])
        with self._lock:
            db = self._db
            with immediate(db):
                batch_id = int(db.execute("INSERT INTO batches(committed_us) VALUES (NULL)").lastrowid or 0)
                stored = insert_counted(
                    db, "frames", FRAME_COLUMNS, batch_id,
                    [
                        (f.device, f.stream, f.boot, f.seq, f.t0_us, f.t_last_us, f.sample_rate, f.channels,
                         f.n_samples, f.scale, f.samples.dtype.str, f.samples.tobytes(), batch_id)
                        for f in batch.frames
                    ],
                )
                stored += insert_counted(
                    db, "readings", READING_COLUMNS, batch_id,
                    [(r.device, r.stream, r.boot, r.seq, r.t_us, json.dumps(dict(r.values)), batch_id)
                     for r in batch.readings],
                )
                before = db.total_changes
                db.executemany(INSERT_EVENT, [(*event_cells.cells(e).values(), batch_id) for e in batch.events])
                db.executemany(
                    "INSERT INTO deadletters(topic, field, reason, node, t_us, payload_len, payload_head_b64) "
                    "VALUES (?,?,?,?,?,?,?)",
                    [(d.topic, d.field, d.reason, d.node, d.t_us, d.payload_len, d.payload_head_b64)
                     for d in batch.deadletters],
                )
                stored += db.total_changes - before
                self._write_registry(seen, models)
                refused: list[AlertUpdate] = []
                changed = self._open_alerts(batch.events) + self._resolve_by_edges(batch.events, refused)
            db.execute("UPDATE batches SET committed_us = ? WHERE id = ?", (time.time_ns() // 1000, batch_id))
        latest = {a.event.event_id: a for a in changed}  # raised and resolved in one batch: the resolved one
        return WriteResult(stored=stored, duplicates=len(batch) - stored, alerts=tuple(latest.values()),
                           refused=tuple(refused))

    def _write_registry(
        self, seen: dict[tuple[str, ...], tuple[int, Any]], models: dict[tuple[str, ...], tuple[int, Any]],
    ) -> None:
        db = self._db
        db.executemany(
            "INSERT INTO devices VALUES (?,?,?,?) ON CONFLICT(device, stream) DO UPDATE SET "
            "site = COALESCE(excluded.site, site), last_seen_us = MAX(last_seen_us, excluded.last_seen_us)",
            [(device, stream, site, t) for (device, stream), (t, site) in seen.items()],
        )
        db.executemany(
            "INSERT INTO models VALUES (?,?,?,?) ON CONFLICT(node, model) DO UPDATE SET "
            "version = CASE WHEN excluded.last_seen_us >= last_seen_us THEN excluded.version ELSE version END, "
            "last_seen_us = MAX(last_seen_us, excluded.last_seen_us)",
            [(node, model, version, t) for (node, model), (t, version) in models.items()],
        )

    def query_stream(self, device: str, stream: str, start_us: int, end_us: int, max_points: int) -> Series:
        with self._lock:
            rows = self._db.execute(
                "SELECT t0_us, sample_rate, channels, scale, dtype, data FROM frames "
                "WHERE device = ? AND stream = ? AND t0_us <= ? AND t_last_us >= ? ORDER BY t0_us",
                (device, stream, end_us, start_us),
            ).fetchall()
        blocks = [
            (t0, rate, np.frombuffer(data, dtype=np.dtype(dtype)).reshape(-1, channels).astype(np.float32)
             * np.float32(scale))
            for t0, rate, channels, scale, dtype, data in rows
        ]
        return series_of(device, stream, blocks, start_us, end_us, max_points)

    def query_readings(self, device: str, stream: str, start_us: int, end_us: int, max_points: int) -> ReadingSeries:
        with self._lock:
            rows = sqlite_readings.in_range(self._db, device, stream, start_us, end_us)
        return readings_series(device, stream, rows, start_us, end_us, max_points)

    def latest_readings(self, stream: str) -> dict[str, Reading]:
        with self._lock:
            return sqlite_readings.latest(self._db, stream)

    def events(self, query: EventQuery) -> list[Event]:
        where: list[str] = []
        args: list[Any] = []
        for column, value in (("device", query.device), ("kind", query.kind), ("model", query.model)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(str(value))
        if query.start_us is not None:
            where.append("t_us >= ?")
            args.append(query.start_us)
        if query.end_us is not None:
            where.append("t_us <= ?")
            args.append(query.end_us)
        sql = f"SELECT {EVENT_COLUMNS} FROM events"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY t_us DESC, event_id LIMIT ?"
        with self._lock:
            rows = self._db.execute(sql, (*args, query.limit)).fetchall()
        return [event_of(r) for r in rows]

    def latest_events(self, model: str) -> dict[str, Event]:
        """The newest event of ``model`` per device (one index probe per device, not a scan of the history)."""
        with self._lock:
            devices = [r[0] for r in self._db.execute("SELECT DISTINCT device FROM devices")]
            rows = [
                self._db.execute(
                    f"SELECT {EVENT_COLUMNS} FROM events WHERE device = ? AND model = ? ORDER BY t_us DESC LIMIT 1",
                    (device, model),
                ).fetchone()
                for device in devices
            ]
        return {e.device: e for e in (event_of(r) for r in rows if r is not None)}

    def stored_sequences(self, device: str, stream: str) -> list[int]:
        """Every stored sequence number of one stream, in order (an inspection helper for tests; no role)."""
        table = "readings" if is_reading_stream(stream) else "frames"
        with self._lock:
            rows = self._db.execute(
                f"SELECT seq FROM {table} WHERE device = ? AND stream = ? ORDER BY seq", (device, stream)
            ).fetchall()
        return [row[0] for row in rows]

    # -- accounting ----------------------------------------------------------------------------------
    def stream_stats(self) -> list[StreamStats]:
        with self._lock:
            return counted_streams(self._db)

    def count(self, table: Table) -> int:
        name = Table(table).value  # raises ValueError for anything else, e.g. SQL
        with self._lock:
            return int(self._db.execute(f"SELECT COUNT(*) FROM {name}").fetchone()[0])

    def frame_latency(self) -> LatencyStats:
        """Device time of each frame's last sample to the commit of the batch that stored it."""
        with self._lock:
            rows = self._db.execute(
                "SELECT b.committed_us - f.t_last_us FROM frames f JOIN batches b ON b.id = f.batch_id "
                "WHERE b.committed_us IS NOT NULL"
            ).fetchall()
        if not rows:
            return LatencyStats(0, None, None, None)
        ms = np.asarray([r[0] for r in rows], dtype=np.float64) / 1000.0
        return LatencyStats(
            int(ms.size), float(np.percentile(ms, 50)), float(np.percentile(ms, 99)), float(ms.max())
        )

    # -- fleet ---------------------------------------------------------------------------------------
    def set_edge_status(self, node: str, site: str, status: str, t_us: int) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO edges VALUES (?,?,?,?) ON CONFLICT(node) DO UPDATE SET "
                "site = excluded.site, status = excluded.status, updated_us = excluded.updated_us",
                (node, site, status, t_us),
            )

    def edges(self) -> list[EdgeStatus]:
        with self._lock:
            rows = self._db.execute("SELECT node, site, status, updated_us FROM edges ORDER BY node").fetchall()
        return [EdgeStatus(*r) for r in rows]

    def devices(self) -> list[DeviceInfo]:
        with self._lock:
            rows = self._db.execute(
                "SELECT device, stream, site, last_seen_us FROM devices ORDER BY device, stream"
            ).fetchall()
        out: dict[str, tuple[list[str], str | None, int]] = {}
        for device, stream, site, last in rows:
            streams, known_site, seen = out.get(device, ([], None, 0))
            if stream != "events":
                streams.append(stream)
            out[device] = (streams, known_site or site, max(seen, last))
        return [DeviceInfo(device, site or "default", tuple(streams), last)
                for device, (streams, site, last) in out.items()]

    def edge_models(self) -> list[EdgeModel]:
        with self._lock:
            rows = self._db.execute(
                "SELECT node, model, version, last_seen_us FROM models ORDER BY node, model"
            ).fetchall()
        return [EdgeModel(*r) for r in rows]

    # -- alerts --------------------------------------------------------------------------------------
    def alerts(self, query: AlertQuery) -> list[Alert]:
        where: list[str] = []
        args: list[Any] = []
        for column, value in (("a.device", query.device), ("e.priority", query.priority),
                              ("a.event_id", query.event_id)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(str(value))
        if query.states is not None:
            states = sorted(query.states)
            where.append(f"a.state IN ({', '.join('?' * len(states))})" if states else "0")
            args.extend(str(s) for s in states)
        sql = SELECT_ALERTS
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += f" ORDER BY {PRIORITY_RANK + ', ' if query.by_priority else ''}a.t_us DESC, a.event_id LIMIT ?"
        with self._lock:
            rows = self._db.execute(sql, (*args, query.limit)).fetchall()
        return [alert_of(r) for r in rows]

    def update_alert(self, event_id: str, action: AlertAction, who: str, t_us: int) -> Alert:
        update = AlertUpdate(event_id, action, who, t_us)
        with immediate(self._db, self._lock):
            current = self._load_alert(event_id)
            if current is None:
                raise AlertNotFound(event_id)
            updated = alerts.apply(current, update)
            self._save_alert(updated)
        return updated

    def _open_alerts(self, events: Iterable[Event]) -> list[Alert]:
        """Alerts the batch's alert events raise (a redelivered one keeps what people did to it)."""
        opened = []
        for event in events:
            alert = alerts.opened_by(event)
            if alert is not None and self._db.execute(
                "INSERT OR IGNORE INTO alerts(event_id, device, t_us, state) VALUES (?,?,?,?)",
                (event.event_id, event.device, event.t_us, str(alert.state)),
            ).rowcount:
                opened.append(alert)
        return opened

    def _resolve_by_edges(self, events: Iterable[Event], refused: list[AlertUpdate]) -> list[Alert]:
        """Close the alerts the batch's resolution events name; one already closed (or unknown) stays as it is,
        and one raised by another node is added to ``refused``."""
        changed = []
        for update in alerts.edge_resolutions(events):
            current = self._load_alert(update.event_id)
            if current is None:
                continue
            try:
                updated = alerts.apply(current, update)
            except alerts.AlertForbidden:
                refused.append(update)
                continue
            except alerts.AlertTransitionError:
                continue  # a redelivered resolution, or one a person already made
            self._save_alert(updated)
            changed.append(updated)
        return changed

    def _load_alert(self, event_id: str) -> Alert | None:
        row = self._db.execute(SELECT_ALERTS + " WHERE a.event_id = ?", (event_id,)).fetchone()
        return None if row is None else alert_of(row)

    def _save_alert(self, alert: Alert) -> None:
        values = [getattr(alert, c) for c in ALERT_COLUMNS]
        self._db.execute(SAVE_ALERT, (*(v.value if isinstance(v, Enum) else v for v in values), alert.event.event_id))

    # -- retention -----------------------------------------------------------------------------------
    def prune(self, now_us: int) -> int:
        removed = 0
        with self._lock:
            if self.retention.waveform_days is not None:
                cutoff = now_us - int(self.retention.waveform_days * _DAY_US)
                removed += self._db.execute("DELETE FROM frames WHERE t_last_us < ?", (cutoff,)).rowcount
                removed += self._db.execute("DELETE FROM readings WHERE t_us < ?", (cutoff,)).rowcount
                rebuild_counters(self._db)
            if self.retention.events_days is not None:
                cutoff = now_us - int(self.retention.events_days * _DAY_US)
                removed += self._db.execute("DELETE FROM events WHERE t_us < ?", (cutoff,)).rowcount
                self._db.execute("DELETE FROM alerts WHERE t_us < ?", (cutoff,))
        return removed

    def close(self) -> None:
        with self._lock:
            self._db.close()
