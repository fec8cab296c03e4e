"""Vital signs of one patient over time: baseline, slow physiological drift, deterioration courses,
measurement noise; with the true values (ground truth) beside what the monitor measures.

:class:`VitalsGenerator` renders any times at once (``render(t)``), so the live vitals monitor (one
reading a second, rendered a block at a time) and dataset mode (hours in one call) share it. Fields
are :data:`iomt.wire.vitals.FIELDS`.

* **Baseline** from the persona (resting heart rate and respiration; blood pressure rising with age;
  SpO2 a little lower in the old), with a per-patient spread, a few patients sitting near a NEWS2
  boundary at rest as real ones do.
* **Drift**: each vital wanders slowly around its baseline (Ornstein-Uhlenbeck, 10-minute time
  constant), which is part of the truth.
* **Courses** (:mod:`firmware_sim.deterioration`) add their change; oxygen raises SpO2 by
  1.5 %/(L/min), at most 6 %.
* **Measurement noise** per reading (the spread of a bedside monitor's successive values).

When the heart rate is measured from an ECG (``hr_from_ecg``), the ECG's rhythm is driven by the
persona's resting rate plus the course's change (:meth:`CoursePlan.hr_offset`), so the truth heart
rate has no drift of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.signal import lfilter

from firmware_sim.deterioration import (
    CONSCIOUSNESS,
    DBP,
    HR,
    O2,
    O2_SPO2_MAX,
    O2_SPO2_PER_L,
    SBP,
    SPO2,
    CoursePlan,
)
from firmware_sim.persona import Persona
from iomt.wire.vitals import FIELDS

#: Measurement noise (sd) and drift (sd of the wander) of hr, spo2, bp_sys, bp_dia, temp_c, resp_rate.
NOISE_SD = np.array([1.5, 0.7, 2.0, 1.5, 0.1, 0.8])
DRIFT_SD = np.array([3.0, 0.5, 4.0, 3.0, 0.1, 0.8])
DRIFT_TAU_S = 600.0
MEASURED = 6  # the first six fields are measured; o2 and acvpu are charted/scripted
#: A stable baseline with one parameter in NEWS2's red (score 3) range, e.g. chronic hypoxaemia
#: charted on scale 1: field -> the range its baseline is drawn from ("acvpu": confusion throughout).
RED_FLAGS: dict[str, tuple[float, float]] = {
    "spo2": (88.5, 91.0), "resp_rate": (25.5, 28.0), "bp_sys": (84.0, 89.5), "hr": (132.0, 140.0),
    "temp_c": (34.5, 34.9), "acvpu": (1.0, 1.0),
}


@dataclass(frozen=True, slots=True)
class VitalsBlock:
    """Readings at times ``t`` (s): ``measured`` and ``truth``, each ``(n, 8)`` in FIELDS order."""

    t: np.ndarray
    measured: np.ndarray
    truth: np.ndarray


def baseline(persona: Persona, rng: np.random.Generator) -> np.ndarray:
    """hr, spo2, bp_sys, bp_dia, temp_c, resp_rate of a persona at rest (draws from ``rng``)."""
    sys_bp = 110 + 0.5 * max(0, persona.age - 30) + rng.normal(0, 8)
    spo2 = 97.5 - 0.03 * max(0, persona.age - 60) - rng.exponential(0.6)
    return np.array([persona.resting_hr, min(99.5, spo2), sys_bp, sys_bp * rng.uniform(0.55, 0.68),
                     36.8 + rng.normal(0, 0.2), persona.resp_rate + rng.normal(0, 1.0)])


@dataclass
class VitalsGenerator:
    persona: Persona
    rng: np.random.Generator
    plan: CoursePlan
    hr_from_ecg: bool = False
    period_s: float = 1.0
    #: one parameter whose baseline sits in NEWS2's red range (a key of RED_FLAGS), or None
    red_flag: str | None = None
    base: np.ndarray = field(default_factory=lambda: np.zeros(MEASURED))
    _drift: np.ndarray = field(default_factory=lambda: np.zeros(MEASURED))

    def __post_init__(self) -> None:
        self.base = baseline(self.persona, self.rng)
        if self.red_flag is not None and self.red_flag != "acvpu":
            column = FIELDS.index(self.red_flag)
            self.base[column] = self.rng.uniform(*RED_FLAGS[self.red_flag])
            if column == SBP:
                self.base[DBP] = self.base[SBP] * 0.6
        self._drift = self.rng.standard_normal(MEASURED) * DRIFT_SD
        if self.hr_from_ecg:
            self._drift[HR] = 0.0

    def render(self, t: np.ndarray) -> VitalsBlock:
        """Readings at ``t`` (seconds, increasing, ``period_s`` apart; consecutive calls continue)."""
        t = np.asarray(t, dtype=np.float64)
        n = len(t)
        a = float(np.exp(-self.period_s / DRIFT_TAU_S))
        shocks = self.rng.standard_normal((n, MEASURED)) * DRIFT_SD * np.sqrt(1 - a * a)
        if self.hr_from_ecg:
            shocks[:, HR] = 0.0
        drift, zf = lfilter([1.0], [1.0, -a], shocks, axis=0, zi=(a * self._drift)[None, :])
        self._drift = zf[0] / a
        effect = self.plan.effect(t)
        truth = np.empty((n, len(FIELDS)))
        truth[:, :MEASURED] = self.base + drift + effect[:, :MEASURED]
        truth[:, O2:] = effect[:, O2:]
        if self.red_flag == "acvpu":
            truth[:, CONSCIOUSNESS] = np.maximum(truth[:, CONSCIOUSNESS], 1.0)
        gain = np.minimum(O2_SPO2_PER_L * truth[:, O2], O2_SPO2_MAX)
        truth[:, SPO2] = np.minimum(100.0, truth[:, SPO2] + gain)
        measured = truth.copy()
        measured[:, :MEASURED] += self.rng.standard_normal((n, MEASURED)) * NOISE_SD
        measured[:, SPO2] = np.clip(measured[:, SPO2], 50.0, 100.0)
        return VitalsBlock(t, measured, truth)

    def reading_values(self, row: np.ndarray, t: float, hr: float | None = None) -> dict[str, float]:
        """The JSON values of one measured row (``hr`` replaces the row's rate when measured from an
        ECG); ``acvpu`` only once a course has scripted consciousness."""
        values = {
            "hr": round(hr if hr is not None else float(row[0]), 1),
            "spo2": round(float(row[1]), 1),
            "bp_sys": round(float(row[2])),
            "bp_dia": round(float(row[3])),
            "temp_c": round(float(row[4]), 2),
            "resp_rate": round(float(row[5]), 1),
            "o2": round(float(row[O2]), 1),
        }
        if self.red_flag == "acvpu" or self.plan.scripted(t):
            values["acvpu"] = int(row[-1])
        return values

