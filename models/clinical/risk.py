"""Five risk classes aligned with the NEWS2 clinical response, and NEWS2 from a vitals reading.

The vitals risk model (the review's Ismail et al. row: vital signs into five risk classes) predicts
one of :class:`Risk`, which splits NEWS2 the way the RCP 2017 chart sets the frequency of monitoring
(chart 3), one class per row of that table:

============== ============================ =====================================
class          NEWS2                        RCP response
============== ============================ =====================================
``none``       aggregate 0                  observations at least 12-hourly
``low``        1-4, no single 3             at least 4-6-hourly; nurse assesses
``low_medium`` 1-4 with a single 3 (red)    at least hourly; doctor reviews
``medium``     5-6                          at least hourly; urgent review
``high``       7 or more                    continuous monitoring; emergency
============== ============================ =====================================

(An aggregate of 3 made of one parameter scoring 3 is ``low_medium``; 0 can never be red.)
"""

from __future__ import annotations

from enum import StrEnum

from iomt.wire.vitals import VitalSigns
from models.clinical.news2 import Band, Consciousness, Observation, Score, SpO2Scale


class Risk(StrEnum):
    NONE = "none"
    LOW = "low"
    LOW_MEDIUM = "low_medium"
    MEDIUM = "medium"
    HIGH = "high"


#: The classes in the vitals model's output order (least urgent first).
RISK_CLASSES: tuple[str, ...] = tuple(r.value for r in Risk)


def risk_of(score: Score) -> Risk:
    """The risk class of a NEWS2 score."""
    if score.band is Band.HIGH:
        return Risk.HIGH
    if score.band is Band.MEDIUM:
        return Risk.MEDIUM
    if score.band is Band.LOW_MEDIUM:
        return Risk.LOW_MEDIUM
    return Risk.NONE if score.total == 0 else Risk.LOW


def observation(
    vitals: VitalSigns, spo2_scale: SpO2Scale = SpO2Scale.SCALE_1, *,
    consciousness_if_absent: Consciousness = Consciousness.ALERT,
) -> Observation | None:
    """The NEWS2 observation of one reading, or None when it lacks respiration, SpO2, systolic BP,
    pulse or temperature. Oxygen absent counts as air; consciousness absent as
    ``consciousness_if_absent`` (alert unless the caller knows better, e.g. the last charted value)."""
    needed = (vitals.resp_rate, vitals.spo2, vitals.bp_sys, vitals.hr, vitals.temp_c)
    if any(v is None for v in needed):
        return None
    assert vitals.resp_rate is not None and vitals.spo2 is not None and vitals.bp_sys is not None
    assert vitals.hr is not None and vitals.temp_c is not None
    return Observation(
        respiration_rate=vitals.resp_rate,
        spo2=vitals.spo2,
        on_oxygen=bool(vitals.on_oxygen),
        systolic_bp=vitals.bp_sys,
        pulse=vitals.hr,
        consciousness=Consciousness(vitals.acvpu) if vitals.acvpu is not None else consciousness_if_absent,
        temperature_c=vitals.temp_c,
        spo2_scale=spo2_scale,
    )
