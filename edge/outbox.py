"""Durable outbox: records wait in SQLite (WAL) until the gateway acknowledges them.

One writer thread appends, one uplink thread reads and deletes; each gets its own connection.
Nothing is deleted except by :meth:`Outbox.delete`, called only after the gateway's acknowledgement,
so a crash at any point re-sends (the store de-duplicates) rather than loses — with one stated
exception: above the disk cap, raw waveform frames are shed oldest-first and counted. Events and
alerts are never shed.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

from iomt.wire.uplink import RecordKind, UplinkRecord

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind INTEGER NOT NULL,
    payload BLOB NOT NULL
);
"""


class Outbox:
    def __init__(self, path: Path, synchronous: str = "NORMAL", max_bytes: int | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._synchronous = synchronous
        self._local = threading.local()
        self.max_bytes = max_bytes
        self.shed_total = 0
        self._shed_unreported = 0
        self._count_lock = threading.Lock()
        conn = self._conn()
        conn.executescript(_SCHEMA)
        self._page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
        self.pending = int(conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=True)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self._synchronous}")
            # No automatic checkpoints: one would run inside whichever commit crossed the threshold
            # — often the edge worker's append — and fsync the database there (tens of ms on a VM
            # disk, straight into the window latency). The uplink thread checkpoints instead.
            conn.execute("PRAGMA wal_autocheckpoint=0")
            self._local.conn = conn
        return conn

    def append(self, records: Sequence[UplinkRecord]) -> None:
        """Append records in one transaction (durable when this returns)."""
        if not records:
            return
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(
                "INSERT INTO outbox(kind, payload) VALUES (?, ?)", [(int(r.kind), r.payload) for r in records]
            )
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        with self._count_lock:
            self.pending += len(records)
        if self.max_bytes is not None:
            self._enforce_cap(conn)

    def used_bytes(self) -> int:
        conn = self._conn()
        pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
        free = int(conn.execute("PRAGMA freelist_count").fetchone()[0])
        return (pages - free) * self._page_size

    def _enforce_cap(self, conn: sqlite3.Connection) -> None:
        """Shed the oldest raw frames until the outbox is under its cap (events are never shed)."""
        assert self.max_bytes is not None
        while self.used_bytes() > self.max_bytes:
            conn.execute("BEGIN IMMEDIATE")
            shed = conn.execute(
                "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE kind = ? ORDER BY id LIMIT 500)",
                (int(RecordKind.FRAME),),
            ).rowcount
            conn.execute("COMMIT")
            if shed <= 0:
                return  # only events left: they are kept whatever the cap says
            with self._count_lock:
                self.pending -= shed
                self.shed_total += shed
                self._shed_unreported += shed

    def take_shed(self) -> int:
        """Frames shed since the last call (for counters)."""
        with self._count_lock:
            shed, self._shed_unreported = self._shed_unreported, 0
        return shed

    def peek(self, limit: int) -> list[tuple[int, UplinkRecord]]:
        """The oldest ``limit`` records with their ids."""
        rows = self._conn().execute("SELECT id, kind, payload FROM outbox ORDER BY id LIMIT ?", (limit,)).fetchall()
        return [(row[0], UplinkRecord(RecordKind(row[1]), bytes(row[2]))) for row in rows]

    def delete(self, ids: Sequence[int]) -> None:
        """Forget acknowledged records."""
        if not ids:
            return
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        before = conn.total_changes
        if len(ids) == max(ids) - min(ids) + 1:
            # the usual case, a contiguous run of the oldest ids: one range delete, not one per row
            conn.execute("DELETE FROM outbox WHERE id BETWEEN ? AND ?", (min(ids), max(ids)))
        else:
            conn.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in ids])
        deleted = conn.total_changes - before
        conn.execute("COMMIT")
        with self._count_lock:
            self.pending -= deleted

    def checkpoint(self) -> tuple[int, int]:
        """Copy the write-ahead log into the database without blocking the writer (PASSIVE);
        returns ``(frames in the log, frames copied)``."""
        _busy, frames, copied = self._conn().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return int(frames), int(copied)

    def depth(self) -> int:
        return int(self._conn().execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
