"""The alarms the gateway raises itself, and the alert events that carry them through the alert lifecycle.

An alarm is identified per patient by a *key* (``news2``, ``limit.spo2.low``, ``quality.ecg.lead_off``,
``model.emotion.not_analysed``, ``battery``, ``no_data``, ``edge_offline``) and has a level (0 = normal; see
:mod:`gateway.vitals.hysteresis`). When its confirmed level changes, the alert of the old level is
resolved and one for the new level (if not 0) is raised, with the priority of that level — so a NEWS2 alert
escalates from medium to high as a new alert, and the list always says what holds now.

The events are ordinary alert events (:mod:`gateway.alerts`): raised with state ``raised``, resolved by a
second event naming the alert in ``detail.alert_id``, written in the same store write as the reading that
moved them. They have no ``node`` (the gateway is no edge), which is how the lifecycle tells the gateway's
resolutions from an edge's. Their ids are derived from (device, key, level, instant), so a write retried
after a failure produces the same events and the store's de-duplication keeps one.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from gateway.vitals import limits as limits_mod
from gateway.vitals import technical
from gateway.vitals.hysteresis import IMMEDIATE, Debounce
from gateway.vitals.news2_score import VERSION as NEWS2_VERSION
from iomt.wire.events import AlertState, Event, EventKind, Priority

_NAMESPACE = uuid.UUID("6f1c7a52-3d0e-4f7e-9a55-1b5a3c9e2d10")


class Category(StrEnum):
    """Clinical alarms are about the patient; technical ones about the equipment (INOP on a station)."""

    CLINICAL = "clinical"
    TECHNICAL = "technical"


class GatewayModel(StrEnum):
    """The ``model`` of the gateway's own events."""

    NEWS2 = "news2"
    LIMITS = "alarm_limits"
    TECHNICAL = "technical"


MODEL_VERSION: Mapping[GatewayModel, str] = {
    GatewayModel.NEWS2: NEWS2_VERSION,
    GatewayModel.LIMITS: "1",
    GatewayModel.TECHNICAL: "1",
}


@dataclass(frozen=True, slots=True)
class AlarmSpec:
    """What an alarm key raises at each level: label and priority; and how its level is debounced."""

    key: str
    model: GatewayModel
    category: Category
    labels: Mapping[int, str]
    priorities: Mapping[int, Priority]
    debounce: Debounce = IMMEDIATE
    stream: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


#: NEWS2 band rank (low_medium = 1, medium = 2, high = 3) -> alert priority. A single red score (aggregate
#: 0-4) calls for an urgent *ward-based* response in the RCP chart, where medium and high call the medical
#: and emergency teams: it is a low-priority alert here. The parameter that scored 3 is usually past its own
#: alarm limit as well, which raises its own medium/high limit alarm.
NEWS2_PRIORITY: Mapping[int, Priority] = {1: Priority.LOW, 2: Priority.MEDIUM, 3: Priority.HIGH}
NEWS2_LABELS: Mapping[int, str] = {1: "news2_low_medium", 2: "news2_medium", 3: "news2_high"}


def news2_spec(debounce: Debounce) -> AlarmSpec:
    return AlarmSpec("news2", GatewayModel.NEWS2, Category.CLINICAL, NEWS2_LABELS, NEWS2_PRIORITY, debounce)


def limit_spec(vital: str, side: limits_mod.Side, debounce: Debounce) -> AlarmSpec:
    labels = {1: f"{vital}_{side.value}", 2: f"{vital}_extreme_{side.value}"}
    return AlarmSpec(f"limit.{vital}.{side.value}", GatewayModel.LIMITS, Category.CLINICAL, labels,
                     limits_mod.LEVEL_PRIORITY, debounce, extra={"vital": vital, "side": side.value})


def quality_spec(stream: str, problem: technical.Technical) -> AlarmSpec:
    return AlarmSpec(f"quality.{stream}.{problem.value}", GatewayModel.TECHNICAL, Category.TECHNICAL,
                     {1: problem.value}, {1: technical.PRIORITY[problem]}, stream=stream)


def model_spec(model: str) -> AlarmSpec:
    """A model cannot analyse the patient's input (its own quality events): ``<model>_not_analysed``."""
    return AlarmSpec(f"model.{model}.{technical.Technical.NOT_ANALYSED.value}", GatewayModel.TECHNICAL,
                     Category.TECHNICAL, {1: f"{model}_{technical.Technical.NOT_ANALYSED.value}"},
                     {1: technical.PRIORITY[technical.Technical.NOT_ANALYSED]}, extra={"analysed_by": model})


BATTERY = AlarmSpec("battery", GatewayModel.TECHNICAL, Category.TECHNICAL,
                    {1: technical.Technical.BATTERY_LOW.value, 2: technical.Technical.BATTERY_CRITICAL.value},
                    {1: technical.PRIORITY[technical.Technical.BATTERY_LOW],
                     2: technical.PRIORITY[technical.Technical.BATTERY_CRITICAL]}, stream="status")
NO_DATA = AlarmSpec("no_data", GatewayModel.TECHNICAL, Category.TECHNICAL, {1: technical.Technical.NO_DATA.value},
                    {1: technical.PRIORITY[technical.Technical.NO_DATA]})
EDGE_OFFLINE = AlarmSpec("edge_offline", GatewayModel.TECHNICAL, Category.TECHNICAL,
                         {1: technical.Technical.EDGE_OFFLINE.value},
                         {1: technical.PRIORITY[technical.Technical.EDGE_OFFLINE]})


def category_of(event: Event) -> Category:
    """An alert's category: the gateway's own say so in ``detail.category``; the edges' alerts are clinical."""
    value = event.detail.get("category")
    return Category.TECHNICAL if value == Category.TECHNICAL.value else Category.CLINICAL


def _id(*parts: object) -> str:
    return uuid.uuid5(_NAMESPACE, "/".join(str(p) for p in parts)).hex


@dataclass(frozen=True, slots=True)
class Raise:
    """Raise ``spec`` at ``level`` for ``device`` at ``t_us``, about ``value`` (what crossed), since ``since_us``."""

    spec: AlarmSpec
    device: str
    site: str
    level: int
    t_us: int
    since_us: int
    value: float | None
    detail: Mapping[str, Any] = field(default_factory=dict)

    def event(self) -> Event:
        spec = self.spec
        return Event(
            device=self.device, model=spec.model.value, model_version=MODEL_VERSION[spec.model], kind=EventKind.ALERT,
            label=spec.labels[self.level], score=float(self.level), window_start_us=min(self.since_us, self.t_us),
            window_end_us=self.t_us, t_us=self.t_us, site=self.site, node="", priority=spec.priorities[self.level],
            state=AlertState.RAISED, value=self.value,
            detail={"category": spec.category.value, "key": spec.key, "level": self.level, "source": "gateway",
                    **({"stream": spec.stream} if spec.stream else {}), **spec.extra, **self.detail},
            event_id=_id(self.device, spec.key, self.level, self.t_us),
        )


def resolution(alert: Event, t_us: int, reason: str) -> Event:
    """The event that resolves the gateway's alert ``alert`` at ``t_us`` (``reason``: why, for the timeline)."""
    return Event(
        device=alert.device, model=alert.model, model_version=alert.model_version, kind=EventKind.ALERT,
        label=alert.label, score=0.0, window_start_us=min(alert.t_us, t_us), window_end_us=max(alert.t_us, t_us),
        t_us=max(alert.t_us, t_us), site=alert.site, node="", priority=alert.priority, state=AlertState.RESOLVED,
        detail={"alert_id": alert.event_id, "category": alert.detail.get("category", Category.CLINICAL.value),
                "key": alert.detail.get("key"), "reason": reason, "source": "gateway"},
        event_id=_id(alert.event_id, "resolved"),
    )
