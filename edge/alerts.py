"""Alerts as small state machines over model outputs, one per device and kind.

* Falls are judged impact by impact in :mod:`models.fall_logic` (:mod:`edge.fall_pipeline`); only
  their label is here.
* Arrhythmia: runs and burden, never a single beat — a run of three or more V beats, or a share of
  ectopic (S/V) beats over the recent beats above a threshold.
* Stress: the stress probability averaged over minutes.
* Vitals risk: the vitals model's class, debounced over consecutive windows; it escalates and
  de-escalates like the RCP bands it is trained on (one alert per level, the old one resolved).

An alert is raised once and resolved once: while active it is not raised again (de-duplicated).
Each machine remembers the device time of the window that raised its alert (``raised_by_us``) and
hands it back with the resolution; :class:`edge.events.EventFactory` turns it into the alert id, so
the raising and the resolving event name the same alert. Acknowledgement is added by people at the
gateway.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from edge.events import EventFactory
from iomt.wire.events import AlertState, Priority


class AlertLabel(StrEnum):
    """What an edge alert is about (the label of its events)."""

    #: a fall confirmed by lying still after the impact
    FALL = "fall"
    #: an impact the fall logic could not judge because the signal broke off after it (a gap)
    POSSIBLE_FALL = "possible_fall"
    #: three or more ventricular beats in a row
    VENTRICULAR_RUN = "ventricular_run"
    #: a high share of ectopic (S/V) beats among the recent beats
    ECTOPY_BURDEN = "ectopy_burden"
    #: the stress probability high for minutes
    STRESS = "stress"
    #: the vitals risk model's class at a RCP response band, for consecutive windows (one label per band)
    VITALS_RISK_LOW_MEDIUM = "vitals_risk_low_medium"
    VITALS_RISK_MEDIUM = "vitals_risk_medium"
    VITALS_RISK_HIGH = "vitals_risk_high"


#: The name pipelines were built with before :class:`~edge.events.EventFactory` built every event
#: (``tests/edge/test_ecg_equivalence.py``, the train/serve check, builds its pipeline with it).
AlertContext = EventFactory


# -- arrhythmia -------------------------------------------------------------------------------------

RUN_LENGTH = 3
BURDEN_BEATS = 60
BURDEN_RAISE = 0.2
BURDEN_RESOLVE = 0.1
RUN_RESOLVE_S = 30.0


@dataclass
class ArrhythmiaState:
    labels: deque[str] = field(default_factory=lambda: deque(maxlen=BURDEN_BEATS))
    consecutive_v: int = 0
    #: R-peak time of the beat that raised the active run alert
    run_alert: int | None = None
    last_run_us: int = 0
    #: R-peak time of the beat that raised the active burden alert
    burden_alert: int | None = None

    def on_beat(self, label: str, t_us: int) -> list[tuple[AlertLabel, AlertState, Priority, float, int]]:
        """Feed one classified beat (``t_us``: its R-peak); return ``(label, state, priority, score,
        raised_by_us)`` transitions, ``raised_by_us`` being the R-peak of the beat that raised the alert."""
        out: list[tuple[AlertLabel, AlertState, Priority, float, int]] = []
        self.labels.append(label)
        self.consecutive_v = self.consecutive_v + 1 if label == "V" else 0
        if self.consecutive_v >= RUN_LENGTH:
            self.last_run_us = t_us
            if self.run_alert is None:
                self.run_alert = t_us
                run = float(self.consecutive_v)
                out.append((AlertLabel.VENTRICULAR_RUN, AlertState.RAISED, Priority.HIGH, run, self.run_alert))
        elif self.run_alert is not None and t_us - self.last_run_us > RUN_RESOLVE_S * 1e6:
            out.append((AlertLabel.VENTRICULAR_RUN, AlertState.RESOLVED, Priority.HIGH, 0.0, self.run_alert))
            self.run_alert = None
        if len(self.labels) >= BURDEN_BEATS // 2:
            burden = sum(1 for x in self.labels if x in ("S", "V")) / len(self.labels)
            if self.burden_alert is None and burden >= BURDEN_RAISE:
                self.burden_alert = t_us
                out.append((AlertLabel.ECTOPY_BURDEN, AlertState.RAISED, Priority.MEDIUM, burden, self.burden_alert))
            elif self.burden_alert is not None and burden < BURDEN_RESOLVE:
                out.append((AlertLabel.ECTOPY_BURDEN, AlertState.RESOLVED, Priority.MEDIUM, burden, self.burden_alert))
                self.burden_alert = None
        return out


# -- stress ----------------------------------------------------------------------------------------

STRESS_WINDOWS = 8  # with a 15 s hop: two minutes
STRESS_RAISE = 0.6
STRESS_RESOLVE = 0.3


@dataclass
class StressState:
    scores: deque[float] = field(default_factory=lambda: deque(maxlen=STRESS_WINDOWS))
    #: end of the window that raised the active alert
    raised_by_us: int | None = None

    def on_window(self, stress_probability: float, end_us: int) -> tuple[AlertState, float, int] | None:
        """Feed the stress probability of the window ending at ``end_us``; ``(state, mean, raised_by_us)``
        when the alert changes, ``raised_by_us`` being the end of the window that raised it."""
        self.scores.append(stress_probability)
        if len(self.scores) < STRESS_WINDOWS:
            return None
        mean = float(np.mean(self.scores))
        if self.raised_by_us is None and mean >= STRESS_RAISE:
            self.raised_by_us = end_us
            return AlertState.RAISED, mean, end_us
        if self.raised_by_us is not None and mean < STRESS_RESOLVE:
            raised_by, self.raised_by_us = self.raised_by_us, None
            return AlertState.RESOLVED, mean, raised_by
        return None


# -- vitals risk -----------------------------------------------------------------------------------

#: Alert level of the vitals model's classes (index in its output): none and low raise nothing.
RISK_LEVEL = {"none": 0, "low": 0, "low_medium": 1, "medium": 2, "high": 3}
#: What each level raises: label and priority, as the RCP chart's responses (a single red parameter
#: calls for a ward-based response: low priority; medium the urgent response team; high the emergency one).
RISK_ALERTS: dict[int, tuple[AlertLabel, Priority]] = {
    1: (AlertLabel.VITALS_RISK_LOW_MEDIUM, Priority.LOW),
    2: (AlertLabel.VITALS_RISK_MEDIUM, Priority.MEDIUM),
    3: (AlertLabel.VITALS_RISK_HIGH, Priority.HIGH),
}
#: Consecutive windows (one a minute) at a level or above that raise it, and at a lower level that lower it.
RISK_ENTER = 2
RISK_LEAVE = 3

#: ``(label, state, priority, score, raised_by_us)`` of one alert transition.
Transition = tuple[AlertLabel, AlertState, Priority, float, int]


@dataclass
class RiskState:
    """The confirmed alert level of one patient's vitals risk, from the model's class per window.

    The level goes up to L when the last :data:`RISK_ENTER` windows are all at L or above, and down
    to L' when the last :data:`RISK_LEAVE` windows are all at L' or below: a single window neither
    raises nor resolves. ``min_level`` is the lowest level that alerts at all (lower ones count as 0).
    """

    min_level: int = 2
    level: int = 0
    recent: deque[int] = field(default_factory=lambda: deque(maxlen=max(RISK_ENTER, RISK_LEAVE)))
    #: end of the window that raised the active alert
    raised_by_us: int | None = None

    def on_window(self, risk_class: str, score: float, end_us: int) -> list[Transition]:
        """Feed the class (and its probability) of the window ending at ``end_us``; the transitions
        it causes: the old level's alert resolved, the new level's raised."""
        level = RISK_LEVEL[risk_class]
        self.recent.append(level if level >= self.min_level else 0)
        recent = list(self.recent)
        new = self.level
        if len(recent) >= RISK_ENTER and min(recent[-RISK_ENTER:]) > self.level:
            new = min(recent[-RISK_ENTER:])
        elif len(recent) >= RISK_LEAVE and max(recent[-RISK_LEAVE:]) < self.level:
            new = max(recent[-RISK_LEAVE:])
        if new == self.level:
            return []
        out: list[Transition] = []
        if self.level and self.raised_by_us is not None:
            label, priority = RISK_ALERTS[self.level]
            out.append((label, AlertState.RESOLVED, priority, score, self.raised_by_us))
        self.level, self.raised_by_us = new, (end_us if new else None)
        if new:
            label, priority = RISK_ALERTS[new]
            out.append((label, AlertState.RAISED, priority, score, end_us))
        return out
