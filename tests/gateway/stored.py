"""What a store physically holds, read past its API (for checks that must not trust the store's own counts)."""

from __future__ import annotations

import sqlite3
from collections import Counter

from gateway.store.influx import RAW, InfluxStore
from gateway.store.influx_http import InfluxHttp
from gateway.store.sqlite import SqliteStore


def copies(store: object, table: str = "frames") -> Counter[tuple[str, str, int]]:
    """How many rows (points) each (device, stream, seq) has in ``table`` (``frames`` or ``readings``)."""
    assert table in ("frames", "readings")
    held: Counter[tuple[str, str, int]] = Counter()
    if isinstance(store, SqliteStore):
        db = sqlite3.connect(f"file:{store.path}?mode=ro", uri=True)
        try:
            for device, stream, seq, n in db.execute(
                f"SELECT device, stream, seq, COUNT(*) FROM {table} GROUP BY device, stream, seq"
            ):
                held[(device, stream, seq)] = n
        finally:
            db.close()
    elif isinstance(store, InfluxStore):
        http = InfluxHttp(store.url, store.database, 10.0, None, None)
        try:
            [result] = http.query(f'SELECT seq FROM "{store.database}"."{RAW}"."{table}" GROUP BY device, stream')
        finally:
            http.close()
        for series in result.get("series", []):
            for _t, seq in series["values"]:
                held[(series["tags"]["device"], series["tags"]["stream"], int(seq))] += 1
    else:
        raise TypeError(f"no way to read {type(store).__name__} past its API")
    return held


def stored_twice(store: object) -> list[tuple[str, str, int]]:
    """Every (device, stream, seq) held more than once, over frames and readings."""
    return sorted(key for table in ("frames", "readings") for key, n in copies(store, table).items() if n > 1)
