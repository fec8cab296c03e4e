"""The SQLite store's layout: its tables, and how an event or alert row becomes a record.

The ``events`` columns and the alert's own columns come from the records' dataclass fields
(:mod:`gateway.store.event_cells`), so the table, the inserts and the reads cannot drift apart. A file
written by an earlier version keeps working: every statement names its columns.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from gateway.alerts import Alert
from gateway.sqlite_tx import immediate
from gateway.store import event_cells
from iomt.wire.events import AlertState, Event, Priority

#: The alert's own columns (its event is joined from ``events``), from the record's fields.
ALERT_COLUMNS = tuple(f.name for f in dataclasses.fields(Alert) if f.name != "event")

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    committed_us INTEGER
);
CREATE TABLE IF NOT EXISTS frames (
    device TEXT NOT NULL, stream TEXT NOT NULL, seq INTEGER NOT NULL,
    t0_us INTEGER NOT NULL, t_last_us INTEGER NOT NULL, sample_rate REAL NOT NULL,
    channels INTEGER NOT NULL, n_samples INTEGER NOT NULL, scale REAL NOT NULL,
    dtype TEXT NOT NULL, data BLOB NOT NULL, batch_id INTEGER NOT NULL, boot INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (device, stream, boot, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS frames_time ON frames(device, stream, t0_us);
CREATE TABLE IF NOT EXISTS readings (
    device TEXT NOT NULL, stream TEXT NOT NULL, seq INTEGER NOT NULL, t_us INTEGER NOT NULL,
    "values" TEXT NOT NULL, batch_id INTEGER NOT NULL, boot INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (device, stream, boot, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS readings_time ON readings(device, stream, t_us);
CREATE TABLE IF NOT EXISTS events ({event_cells.sqlite_columns()}, batch_id INTEGER NOT NULL);
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
-- Per device session (boot id): see gateway.store.sessions. Rebuilt from the tables when empty.
CREATE TABLE IF NOT EXISTS stream_counters (
    device TEXT NOT NULL, stream TEXT NOT NULL, boot INTEGER NOT NULL, records INTEGER NOT NULL,
    first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL, jumps INTEGER NOT NULL, updated INTEGER NOT NULL,
    PRIMARY KEY (device, stream, boot)
) WITHOUT ROWID;
-- Redeliveries refused per stream. Not derivable from the tables, so kept apart from stream_counters
-- (which pruning rebuilds) and never pruned.
CREATE TABLE IF NOT EXISTS stream_duplicates (
    device TEXT NOT NULL, stream TEXT NOT NULL, refused INTEGER NOT NULL, PRIMARY KEY (device, stream)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS edges (
    node TEXT PRIMARY KEY, site TEXT NOT NULL, status TEXT NOT NULL, updated_us INTEGER NOT NULL
);
"""

#: The sample tables' columns, in the order the store writes them.
FRAME_COLUMNS = ("device", "stream", "boot", "seq", "t0_us", "t_last_us", "sample_rate", "channels", "n_samples",
                 "scale", "dtype", "data", "batch_id")
READING_COLUMNS = ("device", "stream", "boot", "seq", "t_us", '"values"', "batch_id")


def migrate_sessions(db: Any) -> bool:
    """Give a file written before wire v2 the boot column in its sample tables' keys (as 0, which is
    what v1 frames decode to); drop the per-stream counters to be rebuilt per session. True if it did."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(frames)")}
    if not columns or "boot" in columns:
        return False
    with immediate(db):
        for table, cols in (("frames", FRAME_COLUMNS), ("readings", READING_COLUMNS)):
            old = [c for c in cols if c != "boot"]
            db.execute(f"ALTER TABLE {table} RENAME TO {table}_v1")
            db.execute(_create(table))
            db.execute(f"INSERT INTO {table} ({', '.join(old)}, boot) SELECT {', '.join(old)}, 0 FROM {table}_v1")
            db.execute(f"DROP TABLE {table}_v1")
        db.execute("DROP TABLE stream_counters")
    return True


def _create(table: str) -> str:
    start = SCHEMA.index(f"CREATE TABLE IF NOT EXISTS {table} (")
    return SCHEMA[start:SCHEMA.index(";", start)]


EVENT_COLUMNS = ", ".join(event_cells.COLUMNS)
INSERT_EVENT = (
    f"INSERT OR IGNORE INTO events ({EVENT_COLUMNS}, batch_id) VALUES ({', '.join('?' * len(event_cells.COLUMNS))}, ?)"
)
SELECT_ALERTS = (
    f"SELECT {', '.join('e.' + c for c in event_cells.COLUMNS)}, {', '.join('a.' + c for c in ALERT_COLUMNS)} "
    "FROM alerts a JOIN events e USING (event_id)"
)
SAVE_ALERT = f"UPDATE alerts SET {', '.join(c + ' = ?' for c in ALERT_COLUMNS)} WHERE event_id = ?"
PRIORITY_RANK = (
    "CASE e.priority " + " ".join(f"WHEN '{p.value}' THEN {p.rank}" for p in Priority) + f" ELSE {len(Priority)} END"
)


def event_of(row: Sequence[Any]) -> Event:
    return event_cells.from_cells(dict(zip(event_cells.COLUMNS, row, strict=False)))


def alert_of(row: Sequence[Any]) -> Alert:
    n = len(event_cells.COLUMNS)
    own = dict(zip(ALERT_COLUMNS, row[n:], strict=True))
    return Alert(event_of(row[:n]), **{**own, "state": AlertState(own["state"])})
