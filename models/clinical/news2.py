"""NEWS2, the National Early Warning Score 2 (Royal College of Physicians, 2017).

Seven parameters each score 0-3 on the chart; the aggregate (0-20) and whether any single parameter
scores 3 give the clinical response band:

====================  ==============================================================
band                  rule (RCP 2017, chart 4)
====================  ==============================================================
``low``               aggregate 0-4 and no single parameter scoring 3
``low_medium``        aggregate 0-4 but a single parameter scores 3 ("red score")
``medium``            aggregate 5-6
``high``              aggregate 7 or more
====================  ==============================================================

Readings are rounded to the chart's resolution before scoring (whole numbers for respiration,
SpO2, blood pressure and pulse; 0.1 °C for temperature), as they would be charted by hand; the
chart's rows are then closed ranges of those charted values. SpO2 scale 2 is only for patients with
confirmed hypercapnic respiratory failure, prescribed a target of 88-92 %: the choice is clinical
and is made per patient, never inferred from the readings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

#: Version of the scoring rules here; stored beside every computed score.
VERSION = "rcp-2017"


class Consciousness(StrEnum):
    """ACVPU: alert, or new confusion / responds to voice / to pain / unresponsive."""

    ALERT = "A"
    CONFUSION = "C"
    VOICE = "V"
    PAIN = "P"
    UNRESPONSIVE = "U"


class SpO2Scale(StrEnum):
    """Scale 1 for most patients; scale 2 for hypercapnic respiratory failure (target 88-92 %)."""

    SCALE_1 = "1"
    SCALE_2 = "2"


class Band(StrEnum):
    """The RCP clinical response bands, least urgent first."""

    LOW = "low"
    LOW_MEDIUM = "low_medium"
    MEDIUM = "medium"
    HIGH = "high"


class Parameter(StrEnum):
    RESPIRATION = "respiration_rate"
    SPO2 = "spo2"
    AIR_OR_OXYGEN = "air_or_oxygen"
    SYSTOLIC_BP = "systolic_bp"
    PULSE = "pulse"
    CONSCIOUSNESS = "consciousness"
    TEMPERATURE = "temperature"


@dataclass(frozen=True, slots=True)
class Observation:
    """One set of observations. Units: breaths/min, %, mmHg, beats/min, °C."""

    respiration_rate: float
    spo2: float
    on_oxygen: bool
    systolic_bp: float
    pulse: float
    consciousness: Consciousness = Consciousness.ALERT
    temperature_c: float = 37.0
    spo2_scale: SpO2Scale = SpO2Scale.SCALE_1

    def __post_init__(self) -> None:
        for name in ("respiration_rate", "spo2", "systolic_bp", "pulse", "temperature_c"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ValueError(f"NEWS2 observation {name}: must be a finite number, got {value!r}")
        if not 0 <= self.spo2 <= 100:
            raise ValueError(f"NEWS2 observation spo2: must be 0-100 %, got {self.spo2!r}")
        for name in ("respiration_rate", "systolic_bp", "pulse"):
            if getattr(self, name) < 0:
                raise ValueError(f"NEWS2 observation {name}: must not be negative, got {getattr(self, name)!r}")


@dataclass(frozen=True, slots=True)
class Score:
    """The aggregate score, each parameter's score, and the response band."""

    total: int
    parameters: dict[Parameter, int]
    band: Band

    @property
    def red(self) -> bool:
        """Whether any single parameter scores 3."""
        return any(v == 3 for v in self.parameters.values())


def _whole(value: float) -> int:
    """Round half up to a whole number, as a charted value (20.5 breaths/min charts as 21)."""
    return math.floor(value + 0.5)


def respiration_score(rate: float) -> int:
    r = _whole(rate)
    if r <= 8:
        return 3
    if r <= 11:
        return 1
    if r <= 20:
        return 0
    if r <= 24:
        return 2
    return 3


def spo2_scale1_score(spo2: float) -> int:
    s = _whole(spo2)
    if s <= 91:
        return 3
    if s <= 93:
        return 2
    if s <= 95:
        return 1
    return 0


def spo2_scale2_score(spo2: float, on_oxygen: bool) -> int:
    s = _whole(spo2)
    if s <= 83:
        return 3
    if s <= 85:
        return 2
    if s <= 87:
        return 1
    if s <= 92 or not on_oxygen:
        return 0  # 88-92 %, or 93 % and above on air
    if s <= 94:
        return 1
    if s <= 96:
        return 2
    return 3


def systolic_score(sbp: float) -> int:
    s = _whole(sbp)
    if s <= 90:
        return 3
    if s <= 100:
        return 2
    if s <= 110:
        return 1
    if s <= 219:
        return 0
    return 3


def pulse_score(pulse: float) -> int:
    p = _whole(pulse)
    if p <= 40:
        return 3
    if p <= 50:
        return 1
    if p <= 90:
        return 0
    if p <= 110:
        return 1
    if p <= 130:
        return 2
    return 3


def temperature_score(celsius: float) -> int:
    tenths = _whole(celsius * 10)  # charted to 0.1 °C
    if tenths <= 350:
        return 3
    if tenths <= 360:
        return 1
    if tenths <= 380:
        return 0
    if tenths <= 390:
        return 1
    return 2


def band_for(total: int, red: bool) -> Band:
    """The RCP response band for an aggregate score and whether a single parameter scored 3."""
    if total >= 7:
        return Band.HIGH
    if total >= 5:
        return Band.MEDIUM
    return Band.LOW_MEDIUM if red else Band.LOW


def score(obs: Observation) -> Score:
    """Score one set of observations on the NEWS2 chart."""
    spo2 = (
        spo2_scale2_score(obs.spo2, obs.on_oxygen)
        if obs.spo2_scale is SpO2Scale.SCALE_2
        else spo2_scale1_score(obs.spo2)
    )
    parts = {
        Parameter.RESPIRATION: respiration_score(obs.respiration_rate),
        Parameter.SPO2: spo2,
        Parameter.AIR_OR_OXYGEN: 2 if obs.on_oxygen else 0,
        Parameter.SYSTOLIC_BP: systolic_score(obs.systolic_bp),
        Parameter.PULSE: pulse_score(obs.pulse),
        Parameter.CONSCIOUSNESS: 0 if obs.consciousness is Consciousness.ALERT else 3,
        Parameter.TEMPERATURE: temperature_score(obs.temperature_c),
    }
    total = sum(parts.values())
    return Score(total=total, parameters=parts, band=band_for(total, any(v == 3 for v in parts.values())))
