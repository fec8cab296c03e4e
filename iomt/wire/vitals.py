"""The values of a ``vitals`` reading: names, units, and the two that carry codes.

A vitals monitor publishes JSON readings (:func:`iomt.wire.frames.encode_reading`) on the ``vitals``
stream; reading values are numbers, so the two observations that are not measurements are numbers
too:

=============  =========  ===============================================================
value          unit       meaning
=============  =========  ===============================================================
``hr``         1/min      pulse (heart rate)
``spo2``       %          peripheral oxygen saturation
``bp_sys``     mmHg       systolic blood pressure
``bp_dia``     mmHg       diastolic blood pressure
``temp_c``     °C         temperature
``resp_rate``  1/min      respiration rate
``o2``         L/min      supplemental oxygen flow; **0 means room air**, any flow > 0 "on oxygen"
``acvpu``      code       consciousness, :data:`ACVPU` index: 0 A(lert), 1 new C(onfusion),
                          2 V(oice), 3 P(ain), 4 U(nresponsive); only sent when a value was
                          charted or scripted — absent means "not assessed"
=============  =========  ===============================================================

Every value is optional on the wire (a monitor without a cuff sends no ``bp_*``). :func:`parse_vitals`
turns a reading's values into a typed :class:`VitalSigns`, :func:`vitals_row` into the row of numbers
models read; both refuse a value that cannot be what its name says (a negative flow, an ACVPU code
that is not 0-4), naming it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from iomt.wire.errors import DecodeError

#: name -> unit of every value a vitals reading may carry, in the order models read them.
UNITS: dict[str, str] = {
    "hr": "1/min",
    "spo2": "%",
    "bp_sys": "mmHg",
    "bp_dia": "mmHg",
    "temp_c": "°C",
    "resp_rate": "1/min",
    "o2": "L/min",
    "acvpu": "code",
}
FIELDS: tuple[str, ...] = tuple(UNITS)
#: ACVPU levels by code (the ``acvpu`` value is the index).
ACVPU: tuple[str, ...] = ("A", "C", "V", "P", "U")
#: A plausible range per measured value; outside it a value is refused as not what its name says.
RANGES: dict[str, tuple[float, float]] = {
    "hr": (0.0, 400.0),
    "spo2": (0.0, 100.0),
    "bp_sys": (0.0, 400.0),
    "bp_dia": (0.0, 300.0),
    "temp_c": (10.0, 50.0),
    "resp_rate": (0.0, 150.0),
    "o2": (0.0, 80.0),
}


@dataclass(frozen=True, slots=True)
class VitalSigns:
    """One vitals reading's values; ``None`` where the reading did not carry it."""

    hr: float | None = None
    spo2: float | None = None
    bp_sys: float | None = None
    bp_dia: float | None = None
    temp_c: float | None = None
    resp_rate: float | None = None
    o2_l_min: float | None = None
    acvpu: str | None = None  # "A", "C", "V", "P" or "U"

    @property
    def on_oxygen(self) -> bool | None:
        return None if self.o2_l_min is None else self.o2_l_min > 0


def vitals_row(values: Mapping[str, float]) -> list[float]:
    """A reading's values in :data:`FIELDS` order (``acvpu`` as its code), NaN where the reading lacks
    one: what models read. Unknown names are ignored.

    Raises :class:`DecodeError` (field ``values``) naming a value outside its range or a bad code."""
    row: list[float] = []
    for name in FIELDS:
        value = values.get(name)
        if value is None:
            row.append(math.nan)
            continue
        if name == "acvpu":
            if not math.isfinite(value) or value != int(value) or not 0 <= value < len(ACVPU):
                raise DecodeError(
                    "values", f"'acvpu' = {value!r} is not a code 0-{len(ACVPU) - 1} ({', '.join(ACVPU)})"
                )
        else:
            lo, hi = RANGES[name]
            if not lo <= value <= hi:
                raise DecodeError("values", f"{name!r} = {value!r} is outside {lo:g}..{hi:g} {UNITS[name]}")
        row.append(float(value))
    return row


def parse_vitals(values: Mapping[str, float]) -> VitalSigns:
    """The typed values of a vitals reading; unknown names are ignored (a monitor may send more).

    Raises :class:`DecodeError` (field ``values``) naming a value outside its range or a bad code."""
    hr, spo2, bp_sys, bp_dia, temp_c, resp_rate, o2, code = (None if math.isnan(v) else v for v in vitals_row(values))
    return VitalSigns(hr, spo2, bp_sys, bp_dia, temp_c, resp_rate, o2, None if code is None else ACVPU[int(code)])
