"""The station's relational records: a patient's registry entry and alarm limits, and a limit change."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.vitals.limits import DEFAULTS, AlarmLimits, Condition
from models.clinical.news2 import SpO2Scale

#: The ECG lead a patient's patch records unless the registry says otherwise (a chest patch approximates
#: a modified lead II).
DEFAULT_ECG_LEAD = "II"


@dataclass(frozen=True, slots=True)
class PatientRecord:
    """A patient in the registry, identified by the device id their data arrives under.

    ``spo2_scale`` and ``supplemental_oxygen`` are clinical settings of NEWS2 (scale 2 only for confirmed
    hypercapnic respiratory failure; oxygen counts when a reading does not say). ``updated_by``/``updated_us``:
    who last changed the entry and when (µs); ``None`` for a patient nobody registered (the defaults).
    """

    device: str
    bed: str | None = None
    room: str | None = None
    display_name: str | None = None
    condition: Condition = Condition.GENERAL
    spo2_scale: SpO2Scale = SpO2Scale.SCALE_1
    supplemental_oxygen: bool = False
    ecg_lead: str = DEFAULT_ECG_LEAD
    updated_by: str | None = None
    updated_us: int | None = None


@dataclass(frozen=True, slots=True)
class PatientLimits:
    """The alarm limits in force for a patient: the condition's defaults (``custom`` false), or limits a
    clinician set, with who and when."""

    device: str
    condition: Condition
    custom: bool
    limits: AlarmLimits
    changed_by: str | None = None
    changed_us: int | None = None


@dataclass(frozen=True, slots=True)
class LimitChange:
    """One change of a patient's limits: the limits set (``None``: back to the condition's defaults)."""

    device: str
    limits: AlarmLimits | None
    changed_by: str
    changed_us: int


def limits_in_force(record: PatientRecord, change: LimitChange | None) -> PatientLimits:
    if change is None or change.limits is None:
        return PatientLimits(record.device, record.condition, False, DEFAULTS[record.condition],
                             change.changed_by if change else None, change.changed_us if change else None)
    return PatientLimits(record.device, record.condition, True, change.limits, change.changed_by, change.changed_us)
