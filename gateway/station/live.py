"""What the station adds to the live feed: each vitals reading's numerics and NEWS2 as it arrives, and
the alerts the gateway raised or resolved."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gateway import serde
from gateway.live import alert_message
from gateway.station.service import Written
from models.clinical.news2 import Band


@dataclass(frozen=True, slots=True)
class LiveVitals:
    """One vitals reading for the live feed (``type: vitals``): vitals under the API's names and its NEWS2
    (``news2``/``band`` null when incomplete)."""

    device: str
    t_us: int
    vitals: Mapping[str, float]
    news2: int | None
    band: Band | None
    consciousness_assumed: bool


def station_messages(written: Written) -> list[str]:
    latest: dict[str, LiveVitals] = {}
    for update in written.plan.vitals:
        r = update.news2
        item = LiveVitals(update.device, update.t_us, update.vitals, r.total, r.band, r.consciousness_assumed)
        if update.device not in latest or latest[update.device].t_us < item.t_us:
            latest[update.device] = item
    messages = []
    if latest:
        messages.append(serde.dumps({"type": "vitals", "readings": [serde.to_json(v) for v in latest.values()]}))
    if written.derived is not None:
        messages.extend(alert_message(a) for a in written.derived.alerts)
    return messages
