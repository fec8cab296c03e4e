"""The one table of vital signs: the name the API uses, the keys a monitor may send it under, label and unit.

A vitals reading is named numbers (``iomt.wire.frames.Reading``). Monitors differ in what they call a
value, so each vital lists the keys it is accepted under (the first is the simulator's); :func:`canonical`
maps a reading to the API's names and drops what it does not know. Three keys are NEWS2 inputs rather
than vitals shown as numerics: whether the patient is on supplemental oxygen (``o2``: 1/0, or ``fio2``:
a fraction 0.21-1 or a percentage 21-100) and the level of consciousness (``acvpu``: 0 = A, 1 = C,
2 = V, 3 = P, 4 = U).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class VitalName(StrEnum):
    """The vitals the API serves, in the order a station shows them."""

    HR = "hr"
    SPO2 = "spo2"
    BP_SYS = "bp_sys"
    BP_DIA = "bp_dia"
    RESP_RATE = "resp_rate"
    TEMP_C = "temp_c"


@dataclass(frozen=True, slots=True)
class Vital:
    """One vital sign: its API name, the reading keys it is accepted under, label, unit and display precision."""

    name: VitalName
    keys: tuple[str, ...]
    label: str
    unit: str
    decimals: int
    low_plausible: float
    high_plausible: float


VITALS: Mapping[str, Vital] = {
    v.name.value: v
    for v in (
        Vital(VitalName.HR, ("hr", "pulse", "pulse_rate", "heart_rate"), "Pulse", "bpm", 0, 0.0, 350.0),
        Vital(VitalName.SPO2, ("spo2", "sp_o2"), "SpO2", "%", 0, 0.0, 100.0),
        Vital(VitalName.BP_SYS, ("bp_sys", "sbp", "systolic_bp", "nibp_sys"), "BP systolic", "mmHg", 0, 0.0, 350.0),
        Vital(VitalName.BP_DIA, ("bp_dia", "dbp", "diastolic_bp", "nibp_dia"), "BP diastolic", "mmHg", 0, 0.0,
              250.0),
        Vital(VitalName.RESP_RATE, ("resp_rate", "rr", "respiration_rate"), "Respiration", "/min", 0, 0.0, 150.0),
        Vital(VitalName.TEMP_C, ("temp_c", "temp", "temperature"), "Temperature", "°C", 1, 20.0, 45.0),
    )
}

#: Reading keys of the NEWS2 inputs that are no vital sign.
OXYGEN_FLAG_KEYS = ("o2", "on_oxygen", "supplemental_o2")
FIO2_KEYS = ("fio2",)
ACVPU_KEYS = ("acvpu", "consciousness", "avpu")

#: What each accepted key means, for the lookup in :func:`canonical`.
_KEY_TO_VITAL = {key: v.name.value for v in VITALS.values() for key in v.keys}


def canonical(values: Mapping[str, float]) -> dict[str, float]:
    """The vitals of a reading under the API's names (first matching key wins; implausible values dropped).

    A value outside the vital's plausible range (e.g. SpO2 of 140 %) is a sensor or transmission error, not a
    measurement: it is left out so it neither scores NEWS2 nor trips an alarm.
    """
    out: dict[str, float] = {}
    for key, value in values.items():
        name = _KEY_TO_VITAL.get(key)
        if name is None or name in out:
            continue
        spec = VITALS[name]
        if spec.low_plausible <= value <= spec.high_plausible:
            out[name] = float(value)
    return out


def _first(values: Mapping[str, float], keys: tuple[str, ...]) -> float | None:
    for key in keys:
        if key in values:
            return float(values[key])
    return None


def on_oxygen(values: Mapping[str, float]) -> bool | None:
    """Whether the reading says the patient is on supplemental oxygen; ``None`` when it does not say."""
    flag = _first(values, OXYGEN_FLAG_KEYS)
    if flag is not None:
        return flag >= 0.5
    fio2 = _first(values, FIO2_KEYS)
    if fio2 is None:
        return None
    return fio2 > (0.21 if fio2 <= 1.0 else 21.0) + 1e-9


def acvpu_code(values: Mapping[str, float]) -> int | None:
    """The level of consciousness the reading sends (0 = A ... 4 = U), or ``None``; out-of-range codes are ignored."""
    code = _first(values, ACVPU_KEYS)
    if code is None or code != int(code) or not 0 <= code <= 4:
        return None
    return int(code)

