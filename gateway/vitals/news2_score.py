"""NEWS2 for every vitals reading, with the per-patient settings a clinician chose.

The chart is :mod:`models.clinical.news2` (RCP 2017); this module only decides what goes into it:

* **which values**: the reading's own, and where a reading lacks one (a monitor that measures blood
  pressure every 15 minutes sends readings without it), the patient's last value of it if it is recent
  enough (:data:`CARRY_S`). A reading that still lacks a parameter is scored *incomplete*: its
  parameter scores are kept, but it has no total and no band, and it moves no alarm.
* **SpO2 scale**: the patient record's (a clinical decision, never inferred from readings).
* **air or oxygen**: the reading's ``o2``/``fio2`` when the monitor sends it, else the patient record's.
* **consciousness (ACVPU)**: the reading's ``acvpu`` when sent (and for an hour after), else Alert,
  flagged as *assumed* — a monitor cannot see new confusion, and the score must say so.

A score is stored as a reading of the derived stream :data:`NEWS2_STREAM` (same sequence number and
instant as the vitals reading it scores), so both stores keep, range and downsample it like any reading.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from gateway.vitals import units
from models.clinical.news2 import VERSION, Band, Consciousness, Observation, Parameter, SpO2Scale, score

__all__ = ["DERIVED_STREAMS", "NEWS2_STREAM", "VERSION", "Carried", "News2Result", "News2Settings", "score_reading"]

#: The derived stream NEWS2 scores are stored under.
NEWS2_STREAM = "news2"
#: Streams the gateway derives, not a device's own: left out of a patient's streams and loss counters.
DERIVED_STREAMS = frozenset({NEWS2_STREAM})
#: How long a parameter's last value stands in for a reading that lacks it (s).
CARRY_S: Mapping[Parameter, float] = {
    Parameter.RESPIRATION: 300.0,
    Parameter.SPO2: 300.0,
    Parameter.PULSE: 300.0,
    Parameter.SYSTOLIC_BP: 3600.0,  # non-invasive BP: every 15-60 min on a ward
    Parameter.TEMPERATURE: 4 * 3600.0,  # charted every 4-12 h
}
#: How long a sent level of consciousness stands (s).
ACVPU_CARRY_S = 3600.0
#: The vital each measured parameter comes from.
PARAMETER_VITAL: Mapping[Parameter, str] = {
    Parameter.RESPIRATION: units.VitalName.RESP_RATE,
    Parameter.SPO2: units.VitalName.SPO2,
    Parameter.SYSTOLIC_BP: units.VitalName.BP_SYS,
    Parameter.PULSE: units.VitalName.HR,
    Parameter.TEMPERATURE: units.VitalName.TEMP_C,
}
_ACVPU = tuple(Consciousness)  # A, C, V, P, U: the wire's codes 0..4
BANDS = tuple(Band)  # least urgent first: the rank stored is the index


@dataclass(frozen=True, slots=True)
class News2Settings:
    """What the patient record decides: the SpO2 scale and whether the patient is on oxygen by default."""

    spo2_scale: SpO2Scale = SpO2Scale.SCALE_1
    supplemental_oxygen: bool = False


@dataclass(slots=True)
class Carried:
    """A patient's last value of each parameter (value, µs) and last sent consciousness code (code, µs)."""

    values: dict[Parameter, tuple[float, int]] = field(default_factory=dict)
    acvpu: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True)
class News2Result:
    """The score of one reading. ``total``/``band`` are ``None`` when a parameter was missing (``missing``)."""

    t_us: int
    parameters: Mapping[Parameter, int]
    total: int | None
    band: Band | None
    missing: tuple[Parameter, ...]
    carried: tuple[Parameter, ...]
    consciousness: Consciousness
    consciousness_assumed: bool
    on_oxygen: bool
    oxygen_from_reading: bool
    spo2_scale: SpO2Scale

    @property
    def complete(self) -> bool:
        return self.total is not None

    def as_values(self) -> dict[str, float]:
        """The score as the named numbers of a :data:`NEWS2_STREAM` reading (see :func:`from_values`)."""
        out = {f"s_{p.value}": float(s) for p, s in self.parameters.items()}
        out.update(complete=float(self.complete), acvpu=float(_ACVPU.index(self.consciousness)),
                   acvpu_assumed=float(self.consciousness_assumed), on_oxygen=float(self.on_oxygen),
                   oxygen_from_reading=float(self.oxygen_from_reading), spo2_scale=float(self.spo2_scale.value),
                   carried=float(len(self.carried)))
        if self.total is not None and self.band is not None:
            out.update(total=float(self.total), band=float(BANDS.index(self.band)),
                       red=float(any(v == 3 for v in self.parameters.values())))
        return out


def score_reading(t_us: int, values: Mapping[str, float], settings: News2Settings, carried: Carried,
                  vitals: Mapping[str, float] | None = None) -> News2Result:
    """Score one raw vitals reading; updates ``carried`` with what the reading measured. ``vitals``: the
    reading's :func:`~gateway.vitals.units.canonical` values, when the caller has them already."""
    if vitals is None:
        vitals = units.canonical(values)
    measured: dict[Parameter, float] = {}
    used_carried: list[Parameter] = []
    for parameter, vital in PARAMETER_VITAL.items():
        if vital in vitals:
            measured[parameter] = vitals[vital]
            carried.values[parameter] = (vitals[vital], t_us)
            continue
        last = carried.values.get(parameter)
        if last is not None and 0 <= t_us - last[1] <= CARRY_S[parameter] * 1e6:
            measured[parameter] = last[0]
            used_carried.append(parameter)
    code = units.acvpu_code(values)
    if code is not None:
        carried.acvpu = (code, t_us)
    elif carried.acvpu is not None and 0 <= t_us - carried.acvpu[1] <= ACVPU_CARRY_S * 1e6:
        code = carried.acvpu[0]
    consciousness = _ACVPU[code] if code is not None else Consciousness.ALERT
    oxygen = units.on_oxygen(values)
    on_o2 = settings.supplemental_oxygen if oxygen is None else oxygen
    missing = tuple(p for p in PARAMETER_VITAL if p not in measured)
    if missing:
        parts, total, band = _partial(measured, on_o2, consciousness, settings.spo2_scale), None, None
    else:
        result = score(Observation(
            respiration_rate=measured[Parameter.RESPIRATION], spo2=measured[Parameter.SPO2], on_oxygen=on_o2,
            systolic_bp=measured[Parameter.SYSTOLIC_BP], pulse=measured[Parameter.PULSE],
            consciousness=consciousness, temperature_c=measured[Parameter.TEMPERATURE], spo2_scale=settings.spo2_scale,
        ))
        parts, total, band = dict(result.parameters), result.total, result.band
    return News2Result(
        t_us=t_us, parameters=parts, total=total, band=band, missing=missing, carried=tuple(used_carried),
        consciousness=consciousness, consciousness_assumed=code is None, on_oxygen=on_o2,
        oxygen_from_reading=oxygen is not None, spo2_scale=settings.spo2_scale,
    )


def _partial(measured: Mapping[Parameter, float], on_o2: bool, consciousness: Consciousness,
             scale: SpO2Scale) -> dict[Parameter, int]:
    """The scores of the parameters that were measured (a complete observation with neutral fill-ins, keeping
    only the measured ones' scores)."""
    neutral = {Parameter.RESPIRATION: 16.0, Parameter.SPO2: 97.0, Parameter.SYSTOLIC_BP: 120.0,
               Parameter.PULSE: 70.0, Parameter.TEMPERATURE: 37.0}
    filled = {**neutral, **measured}
    result = score(Observation(
        respiration_rate=filled[Parameter.RESPIRATION], spo2=filled[Parameter.SPO2], on_oxygen=on_o2,
        systolic_bp=filled[Parameter.SYSTOLIC_BP], pulse=filled[Parameter.PULSE], consciousness=consciousness,
        temperature_c=filled[Parameter.TEMPERATURE], spo2_scale=scale,
    ))
    keep = set(measured) | {Parameter.AIR_OR_OXYGEN, Parameter.CONSCIOUSNESS}
    return {p: s for p, s in result.parameters.items() if p in keep}
