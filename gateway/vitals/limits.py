"""Alarm limits per patient: the defaults per condition, validation of edits, and what a value breaches.

Each vital has an ordinary range (``low``/``high``: a breach is a **medium**-priority alarm) and an
optional extreme range (``extreme_low``/``extreme_high``: **high** priority), as central stations
distinguish e.g. "SpO2 low" from "Desat". ``None`` switches a limit off. A breach enters when the value
is past the limit; it holds until the value is back by the vital's :data:`DEADBAND` (see
:mod:`gateway.vitals.hysteresis`).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from gateway.vitals.units import VITALS, VitalName
from iomt.wire.events import Priority


class Condition(StrEnum):
    """What the patient is monitored for; picks the default limits."""

    GENERAL = "general"
    COPD = "copd"  # hypercapnic: SpO2 target 88-92 %
    HYPERTENSION = "hypertension"
    HEART_FAILURE = "heart_failure"  # often beta-blocked: lower heart-rate floor


class Side(StrEnum):
    LOW = "low"
    HIGH = "high"


#: Priority of a breach by level: 1 = past ``low``/``high``, 2 = past ``extreme_low``/``extreme_high``.
LEVEL_PRIORITY: Mapping[int, Priority] = {1: Priority.MEDIUM, 2: Priority.HIGH}
#: How far back inside a limit a value must come before its breach can clear (units of the vital).
DEADBAND: Mapping[str, float] = {"hr": 3.0, "spo2": 1.0, "bp_sys": 5.0, "bp_dia": 5.0, "resp_rate": 2.0,
                                 "temp_c": 0.2}


@dataclass(frozen=True, slots=True)
class LimitRange:
    """One vital's limits; ``None`` is off. Must satisfy extreme_low <= low < high <= extreme_high."""

    low: float | None = None
    high: float | None = None
    extreme_low: float | None = None
    extreme_high: float | None = None

    def __post_init__(self) -> None:
        for name in ("low", "high", "extreme_low", "extreme_high"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)
                                      or not math.isfinite(value)):
                raise ValueError(f"{name}: must be a finite number or null, got {value!r}")
        ordered = [(n, v) for n, v in (("extreme_low", self.extreme_low), ("low", self.low), ("high", self.high),
                                       ("extreme_high", self.extreme_high)) if v is not None]
        for (a, va), (b, vb) in itertools.pairwise(ordered):
            strict = (a, b) == ("low", "high")
            if va > vb or (strict and va == vb):
                raise ValueError(f"{a} ({va:g}) must be below {b} ({vb:g})")


_VITAL_NAMES = frozenset(v.value for v in VitalName)


@dataclass(frozen=True, slots=True)
class AlarmLimits:
    """The limits of every vital (:class:`~gateway.vitals.units.VitalName`)."""

    hr: LimitRange
    spo2: LimitRange
    bp_sys: LimitRange
    bp_dia: LimitRange
    resp_rate: LimitRange
    temp_c: LimitRange

    def __post_init__(self) -> None:
        for vital in VitalName:
            spec, limits = VITALS[vital], getattr(self, vital.value)
            for name in ("low", "high", "extreme_low", "extreme_high"):
                value = getattr(limits, name)
                if value is not None and not spec.low_plausible <= value <= spec.high_plausible:
                    raise ValueError(f"{vital.value}.{name}: {value:g} {spec.unit} is outside "
                                     f"{spec.low_plausible:g}-{spec.high_plausible:g}")

    def of(self, vital: str) -> LimitRange:
        if vital not in _VITAL_NAMES:
            raise ValueError(f"{vital!r} is not a vital; known: {', '.join(_VITAL_NAMES)}")
        limits: LimitRange = getattr(self, vital)
        return limits

    def replace(self, changes: Mapping[str, LimitRange]) -> AlarmLimits:
        return dataclasses.replace(self, **{VitalName(k).value: v for k, v in changes.items()})


_GENERAL = AlarmLimits(
    hr=LimitRange(50, 120, 40, 140),
    spo2=LimitRange(90, None, 85, None),
    bp_sys=LimitRange(90, 180, 80, 220),
    bp_dia=LimitRange(50, 110, 40, 120),
    resp_rate=LimitRange(8, 25, 6, 30),
    temp_c=LimitRange(35.5, 38.5, 35.0, 39.5),
)

#: Default limits per condition (adult ward; what a station's factory defaults look like).
DEFAULTS: Mapping[Condition, AlarmLimits] = {
    Condition.GENERAL: _GENERAL,
    Condition.COPD: _GENERAL.replace({"spo2": LimitRange(86, None, 82, None), "resp_rate": LimitRange(8, 28, 6, 32)}),
    Condition.HYPERTENSION: _GENERAL.replace({"bp_sys": LimitRange(90, 200, 80, 230),
                                              "bp_dia": LimitRange(50, 120, 40, 130)}),
    Condition.HEART_FAILURE: _GENERAL.replace({"hr": LimitRange(45, 115, 35, 135),
                                               "bp_sys": LimitRange(85, 170, 75, 210)}),
}


@dataclass(frozen=True, slots=True)
class ConditionLimits:
    """The default limits of one condition."""

    condition: Condition
    limits: AlarmLimits


def levels(vital: str, value: float, limits: LimitRange) -> dict[Side, tuple[int, int]]:
    """Per side, the (enter, hold) levels of ``value``: 0 inside, 1 past the limit, 2 past the extreme limit."""
    band = DEADBAND[vital]
    low, high, xlow, xhigh = limits.low, limits.high, limits.extreme_low, limits.extreme_high
    low_enter = 2 if xlow is not None and value < xlow else 1 if low is not None and value < low else 0
    low_hold = 2 if xlow is not None and value < xlow + band else 1 if low is not None and value < low + band else 0
    high_enter = 2 if xhigh is not None and value > xhigh else 1 if high is not None and value > high else 0
    high_hold = 2 if xhigh is not None and value > xhigh - band else 1 if high is not None and value > high - band \
        else 0
    return {Side.LOW: (low_enter, low_hold), Side.HIGH: (high_enter, high_hold)}


def status(vital: str, value: float, limits: LimitRange) -> str:
    """How a value stands against its limits, for colouring a numeric: ``normal``, ``low``, ``high``,
    ``extreme_low`` or ``extreme_high`` (no deadband: the colour shows the value now). ``vital`` names it."""
    if limits.extreme_low is not None and value < limits.extreme_low:
        return "extreme_low"
    if limits.extreme_high is not None and value > limits.extreme_high:
        return "extreme_high"
    if limits.low is not None and value < limits.low:
        return "low"
    if limits.high is not None and value > limits.high:
        return "high"
    return "normal"
