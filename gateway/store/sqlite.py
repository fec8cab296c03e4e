"""The embedded SQLite store (WAL). De-duplicates on (device, stream, seq) and on event id.

Waveforms are kept as the frames' sample blocks (one row per frame, a "chunk"), which is what makes
ingest cheap; queries decode the blocks they touch. Each committed batch records the instant its
commit returned, so storage latency is measured, not assumed.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from gateway.store.base import (
    COUNTABLE,
    Alert,
    AlertNotFound,
    EventQuery,
    LatencyStats,
    Retention,
    Series,
    StreamStats,
    WriteBatch,
    WriteResult,
    downsample,
    frames_to_samples,
    next_alert_state,
)
from iomt.wire.events import Event
from iomt.wire.streams import is_reading_stream

SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    committed_us INTEGER
);
CREATE TABLE IF NOT EXISTS frames (
    device TEXT NOT NULL, stream TEXT NOT NULL, seq INTEGER NOT NULL,
    t0_us INTEGER NOT NULL, t_last_us INTEGER NOT NULL, sample_rate REAL NOT NULL,
    channels INTEGER NOT NULL, n_samples INTEGER NOT NULL, scale REAL NOT NULL,
    dtype TEXT NOT NULL, data BLOB NOT NULL, batch_id INTEGER NOT NULL,
    PRIMARY KEY (device, stream, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS frames_time ON frames(device, stream, t0_us);
CREATE TABLE IF NOT EXISTS readings (
    device TEXT NOT NULL, stream TEXT NOT NULL, seq INTEGER NOT NULL, t_us INTEGER NOT NULL,
    "values" TEXT NOT NULL, batch_id INTEGER NOT NULL,
    PRIMARY KEY (device, stream, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    event_id TEXT PRIMARY KEY, device TEXT NOT NULL, model TEXT NOT NULL, model_version TEXT NOT NULL,
    kind TEXT NOT NULL, label TEXT NOT NULL, score REAL NOT NULL, value REAL, priority TEXT NOT NULL,
    state TEXT, window_start_us INTEGER NOT NULL, window_end_us INTEGER NOT NULL, t_us INTEGER NOT NULL,
    site TEXT NOT NULL, node TEXT NOT NULL, detail TEXT NOT NULL, batch_id INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS events_device ON events(device, model, t_us);
CREATE INDEX IF NOT EXISTS events_time ON events(t_us);
CREATE TABLE IF NOT EXISTS alerts (
    event_id TEXT PRIMARY KEY, device TEXT NOT NULL, t_us INTEGER NOT NULL, state TEXT NOT NULL,
    acknowledged_by TEXT, acknowledged_us INTEGER, resolved_by TEXT, resolved_us INTEGER
);
CREATE INDEX IF NOT EXISTS alerts_time ON alerts(t_us);
CREATE TABLE IF NOT EXISTS devices (
    device TEXT NOT NULL, stream TEXT NOT NULL, site TEXT, last_seen_us INTEGER NOT NULL,
    PRIMARY KEY (device, stream)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS models (
    node TEXT NOT NULL, model TEXT NOT NULL, version TEXT NOT NULL, last_seen_us INTEGER NOT NULL,
    PRIMARY KEY (node, model)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS deadletters (
    id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, field TEXT NOT NULL, reason TEXT NOT NULL,
    node TEXT NOT NULL, t_us INTEGER NOT NULL, payload_len INTEGER NOT NULL, payload_head_b64 TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS stream_counters (
    device TEXT NOT NULL, stream TEXT NOT NULL, records INTEGER NOT NULL, first_seq INTEGER NOT NULL,
    last_seq INTEGER NOT NULL, PRIMARY KEY (device, stream)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS edges (
    node TEXT PRIMARY KEY, site TEXT NOT NULL, status TEXT NOT NULL, updated_us INTEGER NOT NULL
);
"""

TABLES = (*COUNTABLE, "edges", "batches")
_EVENT_COLUMNS = (
    "event_id, device, model, model_version, kind, label, score, value, priority, state, "
    "window_start_us, window_end_us, t_us, site, node, detail"
)
_DAY_US = 86_400_000_000


def _event(r: tuple[Any, ...]) -> Event:
    return Event(
        device=r[1], model=r[2], model_version=r[3], kind=r[4], label=r[5], score=r[6], value=r[7],
        priority=r[8], state=r[9], window_start_us=r[10], window_end_us=r[11], t_us=r[12], site=r[13],
        node=r[14], detail=json.loads(r[15]), event_id=r[0],
    )


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
        counted = self._db.execute("SELECT COUNT(*) FROM stream_counters").fetchone()[0]
        if not counted and self._db.execute("SELECT EXISTS (SELECT 1 FROM frames)").fetchone()[0]:
            self._rebuild_counters()

    def write(self, batch: WriteBatch) -> WriteResult:
        seen = _latest(
            [((f.device, f.stream), f.t_last_us, None) for f in batch.frames]
            + [((r.device, r.stream), r.t_us, None) for r in batch.readings]
            + [((e.device, "events"), e.t_us, e.site) for e in batch.events]
        )
        models = _latest([((e.node, e.model), e.t_us, e.model_version) for e in batch.events if e.node])
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                batch_id = db.execute("INSERT INTO batches(committed_us) VALUES (NULL)").lastrowid
                stored = self._insert_grouped(
                    "INSERT OR IGNORE INTO frames VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    [
                        (f.device, f.stream, f.seq, f.t0_us, f.t_last_us, f.sample_rate, f.channels, f.n_samples,
                         f.scale, f.samples.dtype.str, f.samples.tobytes(), batch_id)
                        for f in batch.frames
                    ],
                )
                stored += self._insert_grouped(
                    "INSERT OR IGNORE INTO readings VALUES (?,?,?,?,?,?)",
                    [(r.device, r.stream, r.seq, r.t_us, json.dumps(dict(r.values)), batch_id) for r in batch.readings],
                )
                before = db.total_changes
                db.executemany(
                    "INSERT OR IGNORE INTO events VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    [
                        (e.event_id, e.device, e.model, e.model_version, e.kind, e.label, e.score, e.value,
                         e.priority, e.state, e.window_start_us, e.window_end_us, e.t_us, e.site, e.node,
                         json.dumps(dict(e.detail)), batch_id)
                        for e in batch.events
                    ],
                )
                db.executemany(
                    "INSERT INTO deadletters(topic, field, reason, node, t_us, payload_len, payload_head_b64) "
                    "VALUES (?,?,?,?,?,?,?)",
                    [(d.topic, d.field, d.reason, d.node, d.t_us, d.payload_len, d.payload_head_b64)
                     for d in batch.deadletters],
                )
                stored += db.total_changes - before
                self._write_side_tables(batch, seen, models)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            db.execute("UPDATE batches SET committed_us = ? WHERE id = ?", (time.time_ns() // 1000, batch_id))
        return WriteResult(stored=stored, duplicates=len(batch) - stored)

    def _insert_grouped(self, sql: str, rows: list[tuple[Any, ...]]) -> int:
        """Insert rows (device, stream, seq, ...) per stream, keeping that stream's counters; returns new rows.

        The counters make ``stream_stats`` (polled by every dashboard) independent of the table size.
        """
        groups: dict[tuple[str, str], list[tuple[Any, ...]]] = {}
        for row in rows:
            groups.setdefault((row[0], row[1]), []).append(row)
        db, inserted = self._db, 0
        for (device, stream), group in groups.items():
            before = db.total_changes
            db.executemany(sql, group)
            new = db.total_changes - before
            if new:
                seqs = [row[2] for row in group]
                db.execute(
                    "INSERT INTO stream_counters VALUES (?,?,?,?,?) ON CONFLICT(device, stream) DO UPDATE SET "
                    "records = records + excluded.records, first_seq = MIN(first_seq, excluded.first_seq), "
                    "last_seq = MAX(last_seq, excluded.last_seq)",
                    (device, stream, new, min(seqs), max(seqs)),
                )
            inserted += new
        return inserted

    def _rebuild_counters(self) -> None:
        """Recount every stream from the tables (after pruning, or for a file written before counters)."""
        self._db.execute("DELETE FROM stream_counters")
        for table in ("frames", "readings"):
            self._db.execute(
                f"INSERT INTO stream_counters SELECT device, stream, COUNT(*), MIN(seq), MAX(seq) FROM {table} "
                "GROUP BY device, stream"
            )

    def _write_side_tables(
        self,
        batch: WriteBatch,
        seen: dict[tuple[str, ...], tuple[int, Any]],
        models: dict[tuple[str, ...], tuple[int, Any]],
    ) -> None:
        db = self._db
        db.executemany(
            "INSERT OR IGNORE INTO alerts(event_id, device, t_us, state) VALUES (?,?,?,?)",
            [(e.event_id, e.device, e.t_us, e.state or "raised") for e in batch.events
             if e.kind == "alert" and e.state != "resolved"],  # a resolution closes its alert (see app)
        )
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

    def stream_stats(self) -> list[StreamStats]:
        with self._lock:
            rows = self._db.execute(
                "SELECT device, stream, records, first_seq, last_seq, 0 FROM stream_counters ORDER BY device, stream"
            ).fetchall()
        return [StreamStats(*row) for row in rows]

    def stored_sequences(self, device: str, stream: str) -> list[int]:
        table = "readings" if is_reading_stream(stream) else "frames"
        with self._lock:
            rows = self._db.execute(
                f"SELECT seq FROM {table} WHERE device = ? AND stream = ? ORDER BY seq", (device, stream)
            ).fetchall()
        return [row[0] for row in rows]

    def latest_events(self, model: str) -> dict[str, Event]:
        """The newest event of ``model`` per device (one index probe per device, not a scan of the history)."""
        with self._lock:
            devices = [r[0] for r in self._db.execute("SELECT DISTINCT device FROM devices")]
            rows = [
                self._db.execute(
                    f"SELECT {_EVENT_COLUMNS} FROM events WHERE device = ? AND model = ? ORDER BY t_us DESC LIMIT 1",
                    (device, model),
                ).fetchone()
                for device in devices
            ]
        return {r[1]: _event(r) for r in rows if r is not None}

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

    def count(self, table: str) -> int:
        if table not in TABLES:
            raise ValueError(f"unknown table {table!r}")
        with self._lock:
            return int(self._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])

    def set_edge_status(self, node: str, site: str, status: str, t_us: int) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO edges VALUES (?,?,?,?) ON CONFLICT(node) DO UPDATE SET "
                "site = excluded.site, status = excluded.status, updated_us = excluded.updated_us",
                (node, site, status, t_us),
            )

    def edges(self) -> list[dict[str, object]]:
        with self._lock:
            rows = self._db.execute("SELECT node, site, status, updated_us FROM edges ORDER BY node").fetchall()
        return [{"node": r[0], "site": r[1], "status": r[2], "updated_us": r[3]} for r in rows]

    def devices(self) -> list[dict[str, object]]:
        with self._lock:
            rows = self._db.execute("SELECT device, stream, site, last_seen_us FROM devices ORDER BY device").fetchall()
        out: dict[str, dict[str, Any]] = {}
        for device, stream, site, last in rows:
            entry = out.setdefault(device, {"device": device, "site": None, "streams": [], "last_seen_us": 0})
            if stream != "events":
                entry["streams"].append(stream)
            entry["site"] = entry["site"] or site
            entry["last_seen_us"] = max(entry["last_seen_us"], last)
        for entry in out.values():
            entry["site"] = entry["site"] or "default"
            entry["streams"].sort()
        return list(out.values())

    def edge_models(self) -> list[dict[str, object]]:
        with self._lock:
            rows = self._db.execute("SELECT node, model, version, last_seen_us FROM models ORDER BY node, model")
            return [{"node": r[0], "model": r[1], "version": r[2], "last_seen_us": r[3]} for r in rows]

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
        t, v = frames_to_samples(blocks)
        bt, bv = downsample(t, v, start_us, end_us, max_points)
        return Series(device, stream, bt, bv, int(((t >= start_us) & (t <= end_us)).sum()))

    def events(self, query: EventQuery) -> list[Event]:
        where: list[str] = []
        args: list[Any] = []
        for column, value in (("device", query.device), ("kind", query.kind), ("model", query.model)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if query.start_us is not None:
            where.append("t_us >= ?")
            args.append(query.start_us)
        if query.end_us is not None:
            where.append("t_us <= ?")
            args.append(query.end_us)
        sql = f"SELECT {_EVENT_COLUMNS} FROM events"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY t_us DESC, event_id LIMIT ?"
        with self._lock:
            rows = self._db.execute(sql, (*args, query.limit)).fetchall()
        return [_event(r) for r in rows]

    def alerts(self, state: str | None = None, device: str | None = None, limit: int = 500) -> list[Alert]:
        where, args = [], []
        for column, value in (("a.state", state), ("a.device", device)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        return self._alerts(where, args, limit)

    def _alerts(self, where: list[str], args: list[Any], limit: int) -> list[Alert]:
        sql = (
            f"SELECT {', '.join('e.' + c.strip() for c in _EVENT_COLUMNS.split(','))}, a.state, a.acknowledged_by, "
            "a.acknowledged_us, a.resolved_by, a.resolved_us FROM alerts a JOIN events e USING (event_id)"
        )
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY a.t_us DESC, a.event_id LIMIT ?"
        with self._lock:
            rows = self._db.execute(sql, (*args, limit)).fetchall()
        return [Alert(_event(r[:16]), *r[16:]) for r in rows]

    def update_alert(self, event_id: str, action: str, who: str, t_us: int) -> Alert:
        with self._lock:
            row = self._db.execute("SELECT state FROM alerts WHERE event_id = ?", (event_id,)).fetchone()
            if row is None:
                raise AlertNotFound(event_id)
            state = next_alert_state(row[0], action)
            column = "acknowledged" if action == "acknowledge" else "resolved"
            self._db.execute(
                f"UPDATE alerts SET state = ?, {column}_by = ?, {column}_us = ? WHERE event_id = ?",
                (state, who, t_us, event_id),
            )
        return self._alerts(["a.event_id = ?"], [event_id], 1)[0]

    def prune(self, now_us: int) -> int:
        removed = 0
        with self._lock:
            if self.retention.waveform_days is not None:
                cutoff = now_us - int(self.retention.waveform_days * _DAY_US)
                removed += self._db.execute("DELETE FROM frames WHERE t_last_us < ?", (cutoff,)).rowcount
                removed += self._db.execute("DELETE FROM readings WHERE t_us < ?", (cutoff,)).rowcount
                self._rebuild_counters()
            if self.retention.events_days is not None:
                cutoff = now_us - int(self.retention.events_days * _DAY_US)
                removed += self._db.execute("DELETE FROM events WHERE t_us < ?", (cutoff,)).rowcount
                self._db.execute("DELETE FROM alerts WHERE t_us < ?", (cutoff,))
        return removed

    def close(self) -> None:
        with self._lock:
            self._db.close()
