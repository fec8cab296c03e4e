"""The embedded SQLite store (WAL). De-duplicates on (device, stream, seq) and on event id.

Waveforms are kept as the frames' sample blocks (one row per frame), which is what makes ingest
cheap; queries decode the blocks they touch. Each committed batch records the instant its commit
returned, so storage latency is measured, not assumed.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path

import numpy as np

from gateway.store.base import LatencyStats, StreamStats, WriteBatch, WriteResult
from iomt.wire.events import Event

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
CREATE TABLE IF NOT EXISTS deadletters (
    id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, field TEXT NOT NULL, reason TEXT NOT NULL,
    node TEXT NOT NULL, t_us INTEGER NOT NULL, payload_len INTEGER NOT NULL, payload_head_b64 TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS edges (
    node TEXT PRIMARY KEY, site TEXT NOT NULL, status TEXT NOT NULL, updated_us INTEGER NOT NULL
);
"""

TABLES = ("frames", "readings", "events", "deadletters", "edges", "batches")


class SqliteStore:
    """Thread-safe: every call takes one lock and runs on one connection."""

    def __init__(self, path: Path | str, synchronous: str = "NORMAL") -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={synchronous}")
        self._db.executescript(SCHEMA)

    def write(self, batch: WriteBatch) -> WriteResult:
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                batch_id = db.execute("INSERT INTO batches(committed_us) VALUES (NULL)").lastrowid
                before = db.total_changes
                db.executemany(
                    "INSERT OR IGNORE INTO frames VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    [
                        (f.device, f.stream, f.seq, f.t0_us, f.t_last_us, f.sample_rate, f.channels, f.n_samples,
                         f.scale, f.samples.dtype.str, f.samples.tobytes(), batch_id)
                        for f in batch.frames
                    ],
                )
                db.executemany(
                    "INSERT OR IGNORE INTO readings VALUES (?,?,?,?,?,?)",
                    [(r.device, r.stream, r.seq, r.t_us, json.dumps(dict(r.values)), batch_id) for r in batch.readings],
                )
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
                stored = db.total_changes - before
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            db.execute("UPDATE batches SET committed_us = ? WHERE id = ?", (time.time_ns() // 1000, batch_id))
        offered = len(batch.frames) + len(batch.readings) + len(batch.events) + len(batch.deadletters)
        return WriteResult(stored=stored, duplicates=offered - stored)

    def stream_stats(self) -> list[StreamStats]:
        query = """
            SELECT device, stream, COUNT(*), MIN(seq), MAX(seq), COUNT(*) - COUNT(DISTINCT seq)
            FROM {table} GROUP BY device, stream ORDER BY device, stream
        """
        with self._lock:
            rows = self._db.execute(query.format(table="frames")).fetchall()
            rows += self._db.execute(query.format(table="readings")).fetchall()
        return [StreamStats(*row) for row in rows]

    def stored_sequences(self, device: str, stream: str) -> list[int]:
        table = "readings" if stream == "vitals" else "frames"
        with self._lock:
            rows = self._db.execute(
                f"SELECT seq FROM {table} WHERE device = ? AND stream = ? ORDER BY seq", (device, stream)
            ).fetchall()
        return [row[0] for row in rows]

    def latest_events(self, model: str) -> dict[str, Event]:
        """The newest event of ``model`` per device."""
        with self._lock:
            rows = self._db.execute(
                """SELECT event_id, device, model, model_version, kind, label, score, value, priority, state,
                          window_start_us, window_end_us, MAX(t_us), site, node, detail
                   FROM events WHERE model = ? GROUP BY device""",
                (model,),
            ).fetchall()
        out: dict[str, Event] = {}
        for r in rows:
            out[r[1]] = Event(
                device=r[1], model=r[2], model_version=r[3], kind=r[4], label=r[5], score=r[6], value=r[7],
                priority=r[8], state=r[9], window_start_us=r[10], window_end_us=r[11], t_us=r[12], site=r[13],
                node=r[14], detail=json.loads(r[15]), event_id=r[0],
            )
        return out

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

    def close(self) -> None:
        with self._lock:
            self._db.close()
