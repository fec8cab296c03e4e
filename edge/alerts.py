"""Alerts as small state machines over model outputs, one per device and kind.

* Falls: a high fall score makes a *candidate*; it is confirmed only by what follows the impact —
  lying still raises the alert, getting up (renewed movement) cancels it.
* Arrhythmia: runs and burden, never a single beat — a run of three or more V beats, or a share of
  ectopic (S/V) beats over the recent beats above a threshold.
* Stress: the stress probability averaged over minutes.

An alert is raised once and resolved once: while active it is not raised again (de-duplicated).
Events carry model name and version, the window, the score and an ``alert_id`` in ``detail``: the
raised event's id is the alert id, and the resolving event names it, so the gateway closes that
alert; acknowledgement is added by people at the gateway.
"""

from __future__ import annotations

import uuid
from collections import deque
from dataclasses import dataclass, field, replace

import numpy as np

from iomt.wire.events import AlertState, Event, EventKind, Priority


@dataclass(frozen=True)
class AlertContext:
    site: str
    node: str


def alert_event(
    ctx: AlertContext, device: str, model: str, version: str, label: str, priority: Priority, state: AlertState,
    score: float, window: tuple[int, int], alert_id: str, **detail: object,
) -> Event:
    event = Event(
        device=device, model=model, model_version=version, kind=EventKind.ALERT, label=label, score=float(score),
        window_start_us=window[0], window_end_us=window[1], t_us=window[1], site=ctx.site, node=ctx.node,
        priority=priority, state=state, detail={"alert_id": alert_id, **detail},
    )
    # the raised event *is* the alert: its id is the alert id, which the resolving event refers to
    return replace(event, event_id=alert_id) if state == AlertState.RAISED else event


# -- falls ------------------------------------------------------------------------------------------

#: Seconds of motion after the impact that decide between "lying still" and "got up".
FALL_OBSERVE_S = 0.75
#: Standard deviation of |acc| (g) below which the wearer counts as lying still.
STILL_STD_G = 0.12
#: No second fall alert for the same device within this many seconds.
FALL_REFRACTORY_S = 30.0
FALL_THRESHOLD = 0.5


@dataclass
class FallCandidate:
    impact_us: int
    score: float
    window: tuple[int, int]
    version: str


@dataclass
class FallConfirmer:
    """Per-device fall state: idle, candidate (waiting for post-impact motion), refractory."""

    threshold: float = FALL_THRESHOLD
    candidate: FallCandidate | None = None
    last_alert_us: int = -(1 << 62)
    cancelled: int = 0

    def on_score(self, score: float, window: tuple[int, int], impact_us: int, version: str) -> None:
        if score < self.threshold or impact_us - self.last_alert_us < FALL_REFRACTORY_S * 1e6:
            return
        c = self.candidate
        # a stronger score for the same impact replaces the candidate; another impact waits its turn
        if c is None or (score > c.score and abs(impact_us - c.impact_us) < 1e6):
            self.candidate = FallCandidate(impact_us, score, window, version)

    def on_motion(self, magnitude: np.ndarray, t_last_us: int, rate_hz: float) -> FallCandidate | None:
        """Feed the newest |acc| samples; return the candidate when it is confirmed."""
        c = self.candidate
        if c is None:
            return None
        after_us = t_last_us - c.impact_us
        if after_us < FALL_OBSERVE_S * 1e6:
            return None
        n = min(len(magnitude), int(FALL_OBSERVE_S * rate_hz))
        # the observed stretch starts a little after the impact so that the rebound is not counted
        settle = int(0.25 * rate_hz)
        tail = magnitude[-n + settle :] if n > settle else magnitude[-n:]
        self.candidate = None
        if float(np.std(tail)) < STILL_STD_G:
            self.last_alert_us = c.impact_us
            return c
        self.cancelled += 1
        return None


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
    run_alert: str | None = None
    last_run_us: int = 0
    burden_alert: str | None = None

    def on_beat(self, label: str, t_us: int) -> list[tuple[str, AlertState, Priority, float, str]]:
        """Feed one classified beat; return ``(label, state, priority, score, alert_id)`` transitions."""
        out: list[tuple[str, AlertState, Priority, float, str]] = []
        self.labels.append(label)
        self.consecutive_v = self.consecutive_v + 1 if label == "V" else 0
        if self.consecutive_v >= RUN_LENGTH:
            self.last_run_us = t_us
            if self.run_alert is None:
                self.run_alert = uuid.uuid4().hex
                run = float(self.consecutive_v)
                out.append(("ventricular_run", AlertState.RAISED, Priority.HIGH, run, self.run_alert))
        elif self.run_alert is not None and t_us - self.last_run_us > RUN_RESOLVE_S * 1e6:
            out.append(("ventricular_run", AlertState.RESOLVED, Priority.HIGH, 0.0, self.run_alert))
            self.run_alert = None
        if len(self.labels) >= BURDEN_BEATS // 2:
            burden = sum(1 for x in self.labels if x in ("S", "V")) / len(self.labels)
            if self.burden_alert is None and burden >= BURDEN_RAISE:
                self.burden_alert = uuid.uuid4().hex
                out.append(("ectopy_burden", AlertState.RAISED, Priority.MEDIUM, burden, self.burden_alert))
            elif self.burden_alert is not None and burden < BURDEN_RESOLVE:
                out.append(("ectopy_burden", AlertState.RESOLVED, Priority.MEDIUM, burden, self.burden_alert))
                self.burden_alert = None
        return out


# -- stress ----------------------------------------------------------------------------------------

STRESS_WINDOWS = 8  # with a 15 s hop: two minutes
STRESS_RAISE = 0.6
STRESS_RESOLVE = 0.3


@dataclass
class StressState:
    scores: deque[float] = field(default_factory=lambda: deque(maxlen=STRESS_WINDOWS))
    alert_id: str | None = None

    def on_window(self, stress_probability: float) -> tuple[AlertState, float, str] | None:
        """Feed one window's stress probability; ``(state, mean, alert_id)`` when the alert changes."""
        self.scores.append(stress_probability)
        if len(self.scores) < STRESS_WINDOWS:
            return None
        mean = float(np.mean(self.scores))
        if self.alert_id is None and mean >= STRESS_RAISE:
            self.alert_id = uuid.uuid4().hex
            return AlertState.RAISED, mean, self.alert_id
        if self.alert_id is not None and mean < STRESS_RESOLVE:
            alert_id, self.alert_id = self.alert_id, None
            return AlertState.RESOLVED, mean, alert_id
        return None
