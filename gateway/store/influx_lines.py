"""What the InfluxDB store writes and reads, below the store: InfluxQL literals, instants, the event point.

An event is every cell of :mod:`gateway.store.event_cells`: the :data:`EVENT_TAGS` as tags (indexed, for
WHERE and GROUP BY), the others as fields (an absent optional value is left out, and reads back as ``None``).
"""

from __future__ import annotations

import zlib
from typing import Any

from influxdb_client import Point, WritePrecision

from gateway.store import event_cells
from iomt.wire.events import Event, EventKind

#: What an empty tag is written as (InfluxDB has no empty tag values).
NO_NODE = "-"
#: Event fields that are tags; the other fields of the record are fields.
EVENT_TAGS = ("device", "model", "kind", "node")


def quote(value: str) -> str:
    """An InfluxQL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def ns(t_us: int, salt: str = "") -> int:
    """A point's instant in ns: ``t_us`` plus, with a salt, a few ns derived from it (so points differ)."""
    return t_us * 1000 + (zlib.crc32(salt.encode()) % 1000 if salt else 0)


def ns_last(t_us: int) -> int:
    """The last ns of the µs ``t_us``: an inclusive range end, since points of that µs may be nudged
    up to 999 ns past it by :func:`ns`."""
    return ns(t_us) + 999


#: The WHERE condition of alert events.
ALERT_EVENTS = f"kind = {quote(EventKind.ALERT)}"


def event_point(e: Event) -> Point:
    cells = event_cells.cells(e)
    point = Point("events")
    for tag in EVENT_TAGS:
        point.tag(tag, cells[tag] or NO_NODE)
    for name, value in cells.items():
        if name not in EVENT_TAGS and value is not None:
            point.field(name, value)
    return point.time(ns(e.t_us, e.event_id), WritePrecision.NS)


def event_of(row: dict[str, Any]) -> Event:
    """The event of a row of ``SELECT * FROM events`` (tags included)."""
    return event_cells.from_cells({**row, "node": "" if row["node"] in (None, NO_NODE) else row["node"]})
