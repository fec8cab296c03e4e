"""What the station shows: a tile per patient, in the order a nurse should look at them.

Tiles are ordered by (1) an open **high**-priority alarm, (2) the NEWS2 band (high, medium, low-medium,
low), (3) an escalated alarm (not acknowledged in time), (4) the most urgent open alarm otherwise, then
(5) by room and bed (numbers in natural order), then device. Within the low band the aggregate does not
reorder tiles, so a score moving between 0 and 2 does not shuffle the screen.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from gateway.alerts import OPEN_STATES, Alert
from gateway.config import StationConfig
from gateway.station.records import PatientRecord
from gateway.station.service import Station
from gateway.store.base import Store
from gateway.store.records import AlertQuery
from gateway.views import DESCRIPTOR_MODEL, declared_placement
from gateway.vitals.alarms import Category, category_of
from gateway.vitals.limits import LimitRange, status
from gateway.vitals.news2_score import BANDS, DERIVED_STREAMS, NEWS2_STREAM
from gateway.vitals.units import VITALS, VitalName, canonical
from iomt.wire.events import AlertState, Priority
from iomt.wire.frames import Reading
from models.clinical.news2 import Band, Consciousness, Parameter, SpO2Scale

MAX_OPEN = 10_000
HEART_RATE_MODEL = "heart_rate"
_ACVPU = tuple(Consciousness)


@dataclass(frozen=True, slots=True)
class VitalNow:
    """A vital's latest value, its limits, and how it stands against them (``normal``, ``low``, ``high``,
    ``extreme_low``, ``extreme_high``; ``unknown`` without a value). Labels and units: ``/api/v1/vitals``."""

    name: VitalName
    value: float | None
    t_us: int | None
    status: str
    limits: LimitRange


@dataclass(frozen=True, slots=True)
class News2Now:
    """A NEWS2 score as stored (``total``/``band`` null when a parameter was missing)."""

    t_us: int
    total: int | None
    band: Band | None
    complete: bool
    parameters: Mapping[Parameter, int]
    consciousness: Consciousness
    consciousness_assumed: bool
    on_oxygen: bool
    oxygen_from_reading: bool
    spo2_scale: SpO2Scale


@dataclass(frozen=True, slots=True)
class AlarmNow:
    """An open alarm on a tile; ``escalated`` once it stayed unacknowledged past ``escalate_after_s``."""

    event_id: str
    model: str
    label: str
    category: Category
    priority: Priority
    state: AlertState
    t_us: int
    stream: str | None
    value: float | None
    escalated: bool


@dataclass(frozen=True, slots=True)
class StationTile:
    """One patient at the station. ``analysed`` is false while the patient's edge node is offline (its
    models do not run); ``stale`` when the newest vitals are older than ``stale_after_s``."""

    device: str
    bed: str | None
    room: str | None
    display_name: str | None
    condition: str
    ecg_lead: str
    site: str
    node: str | None
    edge_status: str
    analysed: bool
    stale: bool
    last_seen_us: int | None
    streams: tuple[str, ...]
    missing: int
    heart_rate: float | None
    heart_rate_t_us: int | None
    heart_rate_source: str | None
    heart_rate_status: str
    vitals: tuple[VitalNow, ...]
    news2: News2Now | None
    battery_pct: float | None
    clinical: tuple[AlarmNow, ...]
    technical: tuple[AlarmNow, ...]
    priority: Priority | None
    escalated: bool
    #: where the motion sensor is worn, as the device declared it (``None``: not declared)
    placement: str | None = None


@dataclass(frozen=True, slots=True)
class StationView:
    """Every tile, most urgent first, and the settings the page needs to keep them (escalation, staleness)."""

    generated_us: int
    escalate_after_s: float
    stale_after_s: float
    tiles: tuple[StationTile, ...]


def news2_now(reading: Reading) -> News2Now:
    """A stored NEWS2 reading (:meth:`gateway.vitals.news2_score.News2Result.as_values`) as shown."""
    v = reading.values
    complete = bool(v.get("complete", 0)) and "total" in v
    parameters = {p: int(v[f"s_{p.value}"]) for p in Parameter if f"s_{p.value}" in v}
    code = int(v.get("acvpu", 0))
    return News2Now(
        t_us=reading.t_us, total=int(v["total"]) if complete else None,
        band=BANDS[int(v["band"])] if complete and "band" in v else None, complete=complete, parameters=parameters,
        consciousness=_ACVPU[code] if 0 <= code < len(_ACVPU) else Consciousness.ALERT,
        consciousness_assumed=bool(v.get("acvpu_assumed", 1)), on_oxygen=bool(v.get("on_oxygen", 0)),
        oxygen_from_reading=bool(v.get("oxygen_from_reading", 0)),
        spo2_scale=SpO2Scale(str(int(v.get("spo2_scale", 1)))),
    )


def _natural(text: str | None) -> tuple[tuple[int, int | str], ...]:
    if not text:
        return ((1, ""),)
    return tuple((0, int(part)) if part.isdigit() else (0, part.lower())
                 for part in re.split(r"(\d+)", text) if part)


def _alarm(alert: Alert, now_us: int, escalate_us: float) -> AlarmNow:
    e = alert.event
    stream = e.detail.get("stream")
    return AlarmNow(
        event_id=e.event_id, model=e.model, label=e.label, category=category_of(e), priority=e.priority,
        state=alert.state, t_us=e.t_us, stream=stream if isinstance(stream, str) else None, value=e.value,
        escalated=alert.state == AlertState.RAISED and now_us - e.t_us >= escalate_us,
    )


def _order(tile: StationTile) -> tuple[object, ...]:
    alarms = tile.clinical + tile.technical
    band = BANDS.index(tile.news2.band) if tile.news2 is not None and tile.news2.band is not None else -1
    return (
        0 if any(a.priority == Priority.HIGH for a in alarms) else 1,
        -band,
        0 if tile.escalated else 1,
        min((a.priority.rank for a in alarms), default=len(Priority)),
        _natural(tile.room), _natural(tile.bed), _natural(tile.device),
    )


def station(store: Store, station: Station, now_us: int) -> StationView:
    """Every patient the store or the registry knows, as tiles, most urgent first."""
    config: StationConfig = station.config
    records = station.records()
    devices = {d.device: d for d in store.devices()}
    missing: dict[str, int] = {}
    for s in store.stream_stats():
        if s.stream not in DERIVED_STREAMS:
            missing[s.device] = missing.get(s.device, 0) + s.missing
    vitals = store.latest_readings("vitals")
    scores = store.latest_readings(NEWS2_STREAM)
    status_readings = store.latest_readings("status")
    heart = store.latest_events(HEART_RATE_MODEL)
    declared = store.latest_events(DESCRIPTOR_MODEL)
    open_alerts: dict[str, list[Alert]] = {}
    for alert in store.alerts(AlertQuery(states=OPEN_STATES, by_priority=True, limit=MAX_OPEN)):
        open_alerts.setdefault(alert.event.device, []).append(alert)
    edge_status = {e.node: e.status for e in store.edges()}
    stale_us, escalate_us = config.stale_after_s * 1e6, config.escalate_after_s * 1e6
    tiles = []
    for device in sorted(set(devices) | set(records)):
        record = records.get(device) or PatientRecord(device)
        info = devices.get(device)
        node = station.engine.node_of(device)
        edge = edge_status.get(node, "unknown") if node else "unknown"
        limits = station.limits(device).limits
        reading = vitals.get(device)
        values = {} if reading is None else canonical(reading.values)
        shown = []
        for name, spec in VITALS.items():
            value = values.get(name)
            shown.append(VitalNow(spec.name, value,
                                  reading.t_us if reading is not None and value is not None else None,
                                  "unknown" if value is None else status(name, value, limits.of(name)),
                                  limits.of(name)))
        ecg = heart.get(device)
        ecg_fresh = ecg is not None and ecg.value is not None and now_us - ecg.t_us <= config.ecg_hr_fresh_s * 1e6
        hr_value = ecg.value if ecg_fresh and ecg is not None else values.get(VitalName.HR)
        hr_t = ecg.t_us if ecg_fresh and ecg is not None else (reading.t_us if reading is not None else None)
        alarms = [_alarm(a, now_us, escalate_us) for a in open_alerts.get(device, [])]
        battery = status_readings.get(device)
        tile = StationTile(
            device=device, bed=record.bed, room=record.room, display_name=record.display_name,
            condition=record.condition.value, ecg_lead=record.ecg_lead, site=info.site if info else "default",
            node=node, edge_status=edge, analysed=edge != "offline",
            stale=reading is None or now_us - reading.t_us > stale_us or edge == "offline",
            last_seen_us=info.last_seen_us if info else None,
            streams=tuple(s for s in (info.streams if info else ()) if s not in DERIVED_STREAMS),
            missing=missing.get(device, 0), heart_rate=hr_value, heart_rate_t_us=hr_t,
            heart_rate_source=("ecg" if ecg_fresh else "monitor") if hr_value is not None else None,
            heart_rate_status="unknown" if hr_value is None else status(VitalName.HR, hr_value, limits.hr),
            vitals=tuple(shown), news2=news2_now(scores[device]) if device in scores else None,
            battery_pct=battery.values.get("battery_pct") if battery is not None else None,
            clinical=tuple(a for a in alarms if a.category == Category.CLINICAL),
            technical=tuple(a for a in alarms if a.category == Category.TECHNICAL),
            priority=min((a.priority for a in alarms), key=lambda p: p.rank, default=None),
            escalated=any(a.escalated for a in alarms), placement=declared_placement(declared.get(device)),
        )
        tiles.append(tile)
    tiles.sort(key=_order)
    return StationView(now_us, config.escalate_after_s, config.stale_after_s, tuple(tiles))

