"""Reading queries of the InfluxDB store: a reading is a point of ``readings`` whose fields ``v_<name>`` hold
its values (tags device, stream; time = the reading's instant)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from gateway.store.influx_lines import ns, ns_last, quote
from iomt.wire.frames import Reading

Rows = Callable[[str], Iterator[dict[str, Any]]]
PREFIX = "v_"


def values_of(row: dict[str, Any]) -> dict[str, float]:
    """The values of a ``SELECT *`` row: its non-null ``v_`` fields, without the prefix."""
    return {k[len(PREFIX):]: float(v) for k, v in row.items() if k.startswith(PREFIX) and v is not None}


def in_range(rows: Rows, measurement: str, device: str, stream: str, start_us: int,
             end_us: int) -> list[tuple[int, dict[str, float]]]:
    """``(t_us, values)`` of one stream's readings in ``[start_us, end_us]``."""
    found = rows(
        f"SELECT * FROM {measurement} WHERE device = {quote(device)} AND stream = {quote(stream)} "
        f"AND time >= {ns(start_us)} AND time <= {ns_last(end_us)}"
    )
    return [(int(r["time"]) // 1000, values_of(r)) for r in found]


def latest(rows: Rows, measurement: str, stream: str) -> dict[str, Reading]:
    """The newest reading of ``stream`` per device."""
    found = rows(f"SELECT * FROM {measurement} WHERE stream = {quote(stream)} GROUP BY device "
                 "ORDER BY time DESC LIMIT 1")
    return {r["device"]: Reading(r["device"], stream, int(r["seq"]), int(r["time"]) // 1000, values_of(r))
            for r in found}
