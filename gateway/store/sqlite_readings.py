"""Reading queries of the SQLite store (the caller holds the store's lock)."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from iomt.wire.frames import Reading


def in_range(db: sqlite3.Connection, device: str, stream: str, start_us: int, end_us: int) -> list[tuple[int, Any]]:
    """``(t_us, values)`` of one stream's readings in ``[start_us, end_us]``, oldest first (index ``readings_time``)."""
    rows = db.execute(
        'SELECT t_us, "values" FROM readings WHERE device = ? AND stream = ? AND t_us BETWEEN ? AND ? ORDER BY t_us',
        (device, stream, start_us, end_us),
    ).fetchall()
    return [(t, json.loads(values)) for t, values in rows]


def latest(db: sqlite3.Connection, stream: str) -> dict[str, Reading]:
    """The newest reading of ``stream`` per device: one index probe per device that has the stream."""
    devices = [r[0] for r in db.execute("SELECT device FROM devices WHERE stream = ? ORDER BY device", (stream,))]
    out: dict[str, Reading] = {}
    for device in devices:
        row = db.execute(
            'SELECT seq, t_us, "values" FROM readings WHERE device = ? AND stream = ? ORDER BY t_us DESC LIMIT 1',
            (device, stream),
        ).fetchone()
        if row is not None:
            out[device] = Reading(device, stream, row[0], row[1], json.loads(row[2]))
    return out
