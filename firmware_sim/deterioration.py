"""Deterioration courses: how the vital signs of a patient who is getting worse move, with ground truth.

A course runs from its onset to its worst over ``duration_s`` (hours on a real ward, minutes in a
demo or a test: the shape is the same, only the clock is compressed), stays at its worst for a
quarter of that, then recovers over as long as it took to develop (treatment). Its effect is a
change from the patient's baseline in each vital sign, interpolated between keyframes at fractions
``u`` of the way to the worst, and scaled by a severity (1: as below).

Physiology (textbook pictures, chosen so that NEWS2 rises through every response band):

* **sepsis** (Sepsis-3, Singer M et al. JAMA 2016;315:801-10; SIRS criteria): heart rate, respiration
  and temperature rise first, blood pressure falls, then SpO2 falls and new confusion appears
  (qSOFA: RR >= 22, SBP <= 100, altered mentation); oxygen is started late. Phases: ``sirs``,
  ``sepsis``, ``septic_shock``.
* **respiratory** (e.g. pneumonia, acute respiratory failure): respiration rises and SpO2 on air
  falls; oxygen is started (2 L/min) and escalated (4 L/min), which partly restores SpO2; heart rate
  follows. Phases: ``tachypnoea``, ``hypoxaemia_on_oxygen``, ``respiratory_failure``.
* **haemorrhage** (ATLS classes of blood loss, ATLS 10th ed. 2018): heart rate rises first (class
  II), then blood pressure falls and respiration rises (class III, anxious/confused), then shock with
  confusion (class IV); oxygen given. Phases: ``class_I`` .. ``class_IV``.

Every phase after the worst is ``peak`` then ``recovery``; before the onset and after recovery a
patient is ``stable``. The vector of a reading is :data:`iomt.wire.vitals.FIELDS`; ``o2`` is the oxygen flow in L/min
(0: room air) and ``acvpu`` the code of :data:`iomt.wire.vitals.ACVPU` (0 alert, 1 new confusion, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from firmware_sim.rates import COURSE_MIX, EventRates
from iomt.wire.vitals import FIELDS

#: Column of each field in a vitals vector (FIELDS order, as the ``vitals`` reading names them).
HR, SPO2, SBP, DBP, TEMP, RR, O2, CONSCIOUSNESS = range(len(FIELDS))
CourseKind = Literal["sepsis", "respiratory", "haemorrhage"]
COURSES: tuple[CourseKind, ...] = ("sepsis", "respiratory", "haemorrhage")
PEAK_SHARE = 0.25  # the worst is held this fraction of the duration
RECOVERY_SHARE = 1.0  # recovery takes this fraction of the duration
#: SpO2 gained per L/min of oxygen, and at most.
O2_SPO2_PER_L = 1.5
O2_SPO2_MAX = 6.0


@dataclass(frozen=True, slots=True)
class Shape:
    """Keyframes of a course: at each ``u`` the change of hr, spo2 (on air), bp_sys, bp_dia, temp_c and
    resp_rate; oxygen flow and ACVPU code as steps (value from its ``u`` on); named phases."""

    u: tuple[float, ...]
    deltas: tuple[tuple[float, float, float, float, float, float], ...]
    o2_steps: tuple[tuple[float, float], ...]
    acvpu_steps: tuple[tuple[float, int], ...]
    phases: tuple[tuple[float, str], ...]


SHAPES: dict[str, Shape] = {
    "sepsis": Shape(
        u=(0.0, 0.25, 0.5, 0.75, 1.0),
        #      hr    spo2  sbp    dbp    temp  rr
        deltas=((0, 0, 0, 0, 0, 0), (12, 0, -5, -3, 0.9, 3), (25, -1, -18, -10, 1.6, 7),
                (38, -3, -32, -18, 2.0, 11), (48, -6, -45, -25, 2.2, 15)),
        o2_steps=((0.8, 2.0),),
        acvpu_steps=((0.7, 1),),
        phases=((0.0, "sirs"), (0.35, "sepsis"), (0.7, "septic_shock")),
    ),
    "respiratory": Shape(
        u=(0.0, 0.25, 0.5, 0.75, 1.0),
        deltas=((0, 0, 0, 0, 0, 0), (5, -2, 0, 0, 0.3, 4), (12, -5, 0, 0, 0.6, 8),
                (20, -8, -5, -3, 0.8, 12), (28, -12, -8, -5, 0.9, 16)),
        o2_steps=((0.35, 2.0), (0.7, 4.0)),
        acvpu_steps=((0.9, 1),),
        phases=((0.0, "tachypnoea"), (0.35, "hypoxaemia_on_oxygen"), (0.75, "respiratory_failure")),
    ),
    "haemorrhage": Shape(
        u=(0.0, 0.25, 0.5, 0.75, 1.0),
        deltas=((0, 0, 0, 0, 0, 0), (15, 0, -3, -2, 0, 2), (30, 0, -12, -8, -0.2, 5),
                (45, -1, -30, -18, -0.4, 9), (60, -3, -50, -28, -0.6, 13)),
        o2_steps=((0.6, 4.0),),
        acvpu_steps=((0.5, 1),),
        phases=((0.0, "class_I"), (0.25, "class_II"), (0.5, "class_III"), (0.75, "class_IV")),
    ),
}


@dataclass(frozen=True, slots=True)
class Course:
    """One deterioration of one patient: onset at ``start_s`` (seconds from the device's start)."""

    kind: str
    start_s: float
    duration_s: float
    severity: float = 1.0
    forced: bool = False

    @property
    def peak_end_s(self) -> float:
        return self.start_s + self.duration_s * (1 + PEAK_SHARE)

    @property
    def end_s(self) -> float:
        """When recovery is complete and the patient is back to baseline."""
        return self.peak_end_s + self.duration_s * RECOVERY_SHARE

    def progress(self, t: np.ndarray) -> np.ndarray:
        """``u`` at each time: 0 before onset, rising to 1 at the worst, 1 at the peak, back to 0."""
        t = np.asarray(t, dtype=np.float64)
        rising = (t - self.start_s) / self.duration_s
        falling = 1.0 - (t - self.peak_end_s) / (self.duration_s * RECOVERY_SHARE)
        return np.clip(np.minimum(rising, np.where(t < self.peak_end_s, 1.0, falling)), 0.0, 1.0)

    def effect(self, t: np.ndarray) -> np.ndarray:
        """``(n, 8)`` change of each field of :data:`FIELDS` at each time (o2 and acvpu absolute)."""
        shape = SHAPES[self.kind]
        u = self.progress(t)
        keys = np.asarray(shape.u)
        deltas = np.asarray(shape.deltas, dtype=np.float64)
        out = np.zeros((len(u), len(FIELDS)))
        for j in range(deltas.shape[1]):
            out[:, j] = np.interp(u, keys, deltas[:, j]) * self.severity
        for at, flow in shape.o2_steps:
            out[:, O2] = np.where(u >= at, flow, out[:, O2])
        for at, code in shape.acvpu_steps:
            out[:, CONSCIOUSNESS] = np.where(u >= at, code, out[:, CONSCIOUSNESS])
        return out

    def hr_change(self, t: float) -> float:
        """The heart-rate column of :meth:`effect` at one instant, without building arrays."""
        shape = SHAPES[self.kind]
        u = float(self.progress(np.array([t]))[0])
        return float(np.interp(u, shape.u, [d[HR] for d in shape.deltas])) * self.severity

    def phase(self, t: float) -> str:
        """The named phase at time ``t``."""
        if t < self.start_s or t >= self.end_s:
            return "stable"
        if t >= self.peak_end_s:
            return "recovery"
        if t >= self.start_s + self.duration_s:
            return "peak"
        u = (t - self.start_s) / self.duration_s
        name = SHAPES[self.kind].phases[0][1]
        for at, label in SHAPES[self.kind].phases:
            if u >= at:
                name = label
        return name


@dataclass
class CoursePlan:
    """The courses of one patient: those a scenario forces, and random onsets at the profile's rate
    (a Poisson process, drawn ahead as time is asked for; none starts while another is under way).

    Its own generator keeps the plan the same whichever device asks first.
    """

    rates: EventRates
    rng: np.random.Generator
    forced: list[Course] = field(default_factory=list)
    courses: list[Course] = field(default_factory=list)
    _next_onset: float = 0.0

    def __post_init__(self) -> None:
        self.courses = sorted(self.forced, key=lambda c: c.start_s)
        self._next_onset = self._draw_gap(0.0)

    def _draw_gap(self, t: float) -> float:
        rate = self.rates.deteriorations_per_patient_hour
        return t + float(self.rng.exponential(3600.0 / rate)) if rate > 0 else float("inf")

    def plan_until(self, t: float) -> None:
        """Draw the random onsets up to ``t``. The process runs in the time a patient is not already
        deteriorating: after a random course the next gap starts when it has resolved; an onset that
        falls inside a forced course is skipped."""
        while self._next_onset <= t:
            onset = self._next_onset
            if any(c.start_s <= onset < c.end_s for c in self.courses):
                self._next_onset = self._draw_gap(onset)
                continue
            kinds = list(COURSE_MIX)
            kind = kinds[int(self.rng.choice(len(kinds), p=np.array(list(COURSE_MIX.values()))))]
            lo, hi = self.rates.course_duration_s[kind]
            duration = float(np.exp(self.rng.uniform(np.log(lo), np.log(hi))))
            course = Course(kind, onset, duration, float(self.rng.uniform(0.8, 1.2)))
            self.courses.append(course)
            self.courses.sort(key=lambda c: c.start_s)
            self._next_onset = self._draw_gap(course.end_s)

    def active(self, t: float) -> Course | None:
        """The course under way at ``t`` (the one started last), or None."""
        self.plan_until(t)
        current = None
        for c in self.courses:
            if c.start_s <= t < c.end_s:
                current = c
        return current

    def effect(self, t: np.ndarray) -> np.ndarray:
        """``(n, 8)`` change of every field at each time, the most recent course winning where two overlap."""
        t = np.asarray(t, dtype=np.float64)
        out = np.zeros((len(t), len(FIELDS)))
        if len(t) == 0:
            return out
        self.plan_until(float(t.max()))
        for c in self.courses:
            inside = (t >= c.start_s) & (t < c.end_s)
            if inside.any():
                out[inside] = c.effect(t[inside])
        return out

    def hr_offset(self, t: float) -> float:
        """Heart-rate change at ``t`` (drives the ECG's rhythm, so the vitals monitor's rate follows);
        called once per beat, so the common case (no course) costs no numpy call."""
        course = self.active(t)
        return 0.0 if course is None else course.hr_change(t)

    def scripted(self, t: float) -> bool:
        """Whether a consciousness level is scripted at ``t`` (from the first onset on)."""
        self.plan_until(t)
        return any(c.start_s <= t for c in self.courses)
