"""Request bodies of the station's edits, validated (pydantic) into the changes they ask for.

Fields left out of a body keep their value; ``null`` switches a limit off. Every error is a
:class:`~gateway.api.params.BadRequest` naming the field.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.api.params import BadRequest
from gateway.vitals.limits import AlarmLimits, Condition, LimitRange
from gateway.vitals.units import VitalName
from models.clinical.news2 import SpO2Scale

_WHO = Field(None, min_length=1, max_length=64,
             description="Who makes the change: optional, and if given the signed-in user (the change is recorded "
                         "under the signed-in user)")
_LABEL = r"^[\w .#/-]{1,32}$"


class Body(BaseModel):
    """Every edit is recorded under the signed-in user; ``by``, if sent, must name that user."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    by: str | None = _WHO


class RegistryEdit(Body):
    """Change the registry entry of a patient (admin)."""

    bed: str | None = Field(None, pattern=_LABEL)
    room: str | None = Field(None, pattern=_LABEL)
    display_name: str | None = Field(None, min_length=1, max_length=64)
    condition: Condition = Condition.GENERAL
    ecg_lead: str = Field("II", pattern=r"^[A-Za-z0-9 ]{1,12}$")


class ClinicalEdit(Body):
    """Change the NEWS2 settings of a patient (clinician): SpO2 scale, supplemental oxygen by default."""

    spo2_scale: SpO2Scale = SpO2Scale.SCALE_1
    supplemental_oxygen: bool = False


class RangeEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    low: float | None = None
    high: float | None = None
    extreme_low: float | None = None
    extreme_high: float | None = None


class LimitsEdit(Body):
    """Change some vitals' alarm limits (clinician); vitals left out keep theirs."""

    limits: dict[VitalName, RangeEdit] = Field(min_length=1)




def parse(model: type[Body], body: Any) -> tuple[Body, dict[str, Any]]:
    """The validated body and the fields it set (other than ``by``)."""
    try:
        parsed = model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise BadRequest(where, first["msg"]) from None
    changes = {name: getattr(parsed, name) for name in parsed.model_fields_set if name != "by"}
    return parsed, changes


def limit_changes(edit: LimitsEdit, current: AlarmLimits) -> dict[str, LimitRange]:
    """The new ranges of the vitals ``edit`` names (fields it left out keep the current value), checked."""
    out: dict[str, LimitRange] = {}
    for vital, given in edit.limits.items():
        now = current.of(vital)
        values = {name: getattr(given, name) if name in given.model_fields_set else getattr(now, name)
                  for name in ("low", "high", "extreme_low", "extreme_high")}
        try:
            out[vital.value] = LimitRange(**values)
        except ValueError as exc:
            raise BadRequest(f"limits.{vital.value}", str(exc)) from None
    try:
        current.replace(out)
    except ValueError as exc:
        raise BadRequest("limits", str(exc)) from None
    return out
