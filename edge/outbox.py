"""Durable outbox: records wait in SQLite (WAL) until the gateway acknowledges them.

One writer thread appends, one uplink thread reads and deletes; each gets its own connection.
Nothing is deleted except by :meth:`Outbox.delete`, called only after the gateway's acknowledgement,
so a crash at any point re-sends (the store de-duplicates) rather than loses.
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
    def __init__(self, path: Path, synchronous: str = "NORMAL") -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._synchronous = synchronous
        self._local = threading.local()
        with self._conn() as conn:
            conn.executescript(_SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=True)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self._synchronous}")
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
        conn.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in ids])
        conn.execute("COMMIT")

    def depth(self) -> int:
        return int(self._conn().execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
