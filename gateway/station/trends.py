"""Trends of a patient's vitals and NEWS2 over a range, downsampled by the store (bucket mean, min, max)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gateway.station.views import News2Now
from gateway.store.records import ReadingSeries
from gateway.vitals.news2_score import BANDS
from gateway.vitals.units import VITALS
from models.clinical.news2 import Band


@dataclass(frozen=True, slots=True)
class TrendLine:
    """One value over the buckets of a trend: mean, minimum and maximum per bucket (null where none)."""

    name: str
    label: str
    unit: str
    mean: tuple[float | None, ...]
    low: tuple[float | None, ...]
    high: tuple[float | None, ...]


@dataclass(frozen=True, slots=True)
class VitalsTrend:
    """Every vital of a patient over ``[start_us, end_us]``: ``t_us[i]`` is the instant (or bucket start) of
    point i; ``readings`` is how many readings the range held."""

    device: str
    start_us: int
    end_us: int
    readings: int
    points: int
    t_us: tuple[int, ...]
    vitals: tuple[TrendLine, ...]


@dataclass(frozen=True, slots=True)
class News2Trend:
    """A patient's NEWS2 aggregate over a range, and the worst band of each bucket (null: incomplete scores only)."""

    device: str
    start_us: int
    end_us: int
    readings: int
    points: int
    t_us: tuple[int, ...]
    total: TrendLine
    band: tuple[Band | None, ...]


@dataclass(frozen=True, slots=True)
class News2Latest:
    device: str
    news2: News2Now


def _column(values: np.ndarray, decimals: int) -> tuple[float | None, ...]:
    return tuple(None if math.isnan(v) else round(float(v), decimals) for v in values)


def _line(series: ReadingSeries, key: str, name: str, label: str, unit: str, decimals: int) -> TrendLine:
    if key not in series.names:
        empty = (None,) * series.t_us.size
        return TrendLine(name, label, unit, empty, empty, empty)
    c = series.names.index(key)
    return TrendLine(name, label, unit, _column(series.mean[:, c], decimals), _column(series.low[:, c], decimals),
                     _column(series.high[:, c], decimals))


def vitals_trend(series: ReadingSeries) -> VitalsTrend:
    """A ``vitals`` series as trends under the API's names (a vital sent under another accepted key counts)."""
    lines = []
    for name, spec in VITALS.items():
        key = next((k for k in spec.keys if k in series.names), name)
        lines.append(_line(series, key, name, spec.label, spec.unit, spec.decimals + 1))
    return VitalsTrend(series.device, series.start_us, series.end_us, series.readings, int(series.t_us.size),
                       tuple(int(t) for t in series.t_us), tuple(lines))


def news2_trend(series: ReadingSeries) -> News2Trend:
    total = _line(series, "total", "news2", "NEWS2", "", 1)
    if "band" in series.names:
        worst = series.high[:, series.names.index("band")]
        bands = tuple(None if math.isnan(b) else BANDS[int(b)] for b in worst)
    else:
        bands = (None,) * series.t_us.size
    return News2Trend(series.device, series.start_us, series.end_us, series.readings, int(series.t_us.size),
                      tuple(int(t) for t in series.t_us), total, bands)
