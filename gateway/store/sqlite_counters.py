"""The SQLite store's per-session stream counters (:mod:`gateway.store.sessions`): kept in the same
transaction as the rows they count, rebuilt from the tables after pruning or a migration, read by
``stream_stats`` (polled by every dashboard, so independent of the tables' size)."""

from __future__ import annotations

import itertools
import sqlite3
from typing import Any

from gateway.store.records import StreamStats
from gateway.store.sessions import Session, stream_stats

_SAVE = "INSERT OR REPLACE INTO stream_counters VALUES (?,?,?,?,?,?,?,?)"


def insert_counted(
    db: sqlite3.Connection, table: str, columns: tuple[str, ...], batch_id: int, rows: list[tuple[Any, ...]],
) -> int:
    """Insert rows (device, stream, boot, seq, ...) per session, keeping its counters; returns new rows.

    A row the primary key refuses is a redelivery, counted per stream in ``stream_duplicates``.
    """
    groups: dict[tuple[str, str, int], list[tuple[Any, ...]]] = {}
    for row in rows:
        groups.setdefault((row[0], row[1], row[2]), []).append(row)
    inserted = 0
    insert = f"INSERT OR IGNORE INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    for (device, stream, boot), group in groups.items():
        seqs = {row[3] for row in group}
        new_seqs = seqs - _present(db, table, device, stream, boot, seqs)
        db.executemany(insert, group)
        if new_seqs:
            session = _session(db, device, stream, boot)
            session.add(new_seqs, batch_id)
            db.execute(_SAVE, _row(device, stream, boot, session))
        if len(new_seqs) < len(group):
            db.execute(
                "INSERT INTO stream_duplicates VALUES (?,?,?) ON CONFLICT(device, stream) DO UPDATE SET "
                "refused = refused + excluded.refused",
                (device, stream, len(group) - len(new_seqs)),
            )
        inserted += len(new_seqs)
    return inserted


def rebuild_counters(db: sqlite3.Connection) -> None:
    """Recount every session from the tables (after pruning, or for a file written before counters)."""
    db.execute("DELETE FROM stream_counters")
    for table in ("frames", "readings"):
        rows = db.execute(f"SELECT device, stream, boot, seq, batch_id FROM {table} ORDER BY device, stream, boot")
        for (device, stream, boot), group in itertools.groupby(rows.fetchall(), key=lambda r: (r[0], r[1], r[2])):
            members = list(group)
            session = Session()
            session.add([r[3] for r in members], max(r[4] for r in members))
            db.execute(_SAVE, _row(device, stream, boot, session))


def counted_streams(db: sqlite3.Connection) -> list[StreamStats]:
    """Every stream's stats from its sessions' counters and its refused redeliveries."""
    rows = db.execute(
        "SELECT c.device, c.stream, c.boot, c.records, c.first_seq, c.last_seq, c.jumps, c.updated, "
        "COALESCE(d.refused, 0) FROM stream_counters c LEFT JOIN stream_duplicates d USING (device, stream) "
        "ORDER BY c.device, c.stream"
    ).fetchall()
    stats = []
    for (device, stream), group in itertools.groupby(rows, key=lambda r: (r[0], r[1])):
        members = list(group)
        stats.append(stream_stats(device, stream, {r[2]: Session(*r[3:8]) for r in members}, members[0][8]))
    return stats


def _present(db: sqlite3.Connection, table: str, device: str, stream: str, boot: int, seqs: set[int]) -> set[int]:
    present: set[int] = set()
    ordered = sorted(seqs)
    for i in range(0, len(ordered), 500):
        part = ordered[i:i + 500]
        present.update(row[0] for row in db.execute(
            f"SELECT seq FROM {table} WHERE device = ? AND stream = ? AND boot = ? "
            f"AND seq IN ({', '.join('?' * len(part))})", (device, stream, boot, *part)))
    return present


def _session(db: sqlite3.Connection, device: str, stream: str, boot: int) -> Session:
    row = db.execute(
        "SELECT records, first_seq, last_seq, jumps, updated FROM stream_counters "
        "WHERE device = ? AND stream = ? AND boot = ?", (device, stream, boot)).fetchone()
    return Session() if row is None else Session(*row)


def _row(device: str, stream: str, boot: int, s: Session) -> tuple[Any, ...]:
    return (device, stream, boot, s.records, s.first_seq, s.last_seq, s.jumps, s.updated)
