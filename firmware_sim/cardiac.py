"""Cardiac rhythm: when each beat happens, what AAMI class it is and what shape its waves have.

The beat generator walks forward in time one beat at a time (a few microseconds each), so the same
code produces a 10-minute dataset recording in one call and a live ECG patch's next seconds on demand.

Physiology encoded here (textbook electrocardiography, e.g. Goldberger's *Clinical
Electrocardiography*):

* **Sinus rhythm** ``N``: RR from the target heart rate, modulated by respiration (RSA), a 0.1 Hz
  Mayer wave and an AR(1) term; P wave a PR interval before a narrow QRS; QT shortens with rate.
* **Supraventricular ectopic** ``S``: premature (55-80 % of the RR), narrow QRS, abnormal (often
  inverted or shorter-PR) P wave; resets the sinus node (no compensatory pause).
* **Ventricular ectopic** ``V``: premature (50-75 %), no P wave, wide bizarre QRS (Gaussian width
  26-42 ms, i.e. QRS 120-180 ms) with a discordant T wave; full compensatory pause.
* **Fusion** ``F``: a ventricular ectopic firing as the sinus beat conducts: on time, intermediate
  width and shape, P wave present.
* **Paced** ``Q`` (AAMI unclassifiable class): pacemaker spike then a wide QRS, on the sinus schedule.
* **Atrial fibrillation** (rhythm episode): irregularly irregular RR (log-normal, CV ~25 %), faster
  ventricular rate, no P waves (fibrillatory waves are added to the baseline by :mod:`ecg`); beats
  are class ``N``.
* **Ventricular tachycardia** (rhythm episode): runs of 3-15 ``V`` beats at 140-220 bpm.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from firmware_sim.persona import Persona

#: Waves of a beat: P, Q, R, S, T and X (pacemaker spike); per wave (offset from R s, width s, mV).
N_WAVES = 6
P, Q, R, S, T, X = range(N_WAVES)

#: A control signal of time (seconds); it must accept a float and a numpy array (``np.interp`` does).
Control = Callable[[Any], Any]


@dataclass
class Beats:
    """Beats in time order: R-peak time, AAMI class and the wave parameters, shape (n, 6, 3)."""

    t: np.ndarray
    labels: list[str]
    waves: np.ndarray

    @staticmethod
    def empty() -> Beats:
        return Beats(np.zeros(0), [], np.zeros((0, N_WAVES, 3)))


@dataclass(frozen=True)
class Episode:
    """A rhythm episode (``AF`` or ``VT``) from ``start`` to ``end`` seconds."""

    label: str
    start: float
    end: float


@dataclass
class BeatGenerator:
    """Generates beats forward in time for one persona.

    ``hr_bpm(t)``, ``hrv_scale(t)`` and ``resp_phase(t)`` (radians) let other generators (emotion,
    exercise) drive the heart; by default they are the persona's resting values.
    """

    persona: Persona
    rng: np.random.Generator
    hr_bpm: Control | None = None
    hrv_scale: Control | None = None
    resp_phase: Control | None = None
    episodes: list[Episode] = field(default_factory=list)
    #: episodes a scenario forces (AF, or VT whose length sets the beats), started at their start time
    forced: list[Episode] = field(default_factory=list)
    _t_prev: float = 0.0
    _next_sinus: float = -1.0
    _ar: float = 0.0
    _vt_left: int = 0
    _vt_rate: float = 180.0
    _next_af: float = -1.0
    _af_end: float = -1.0
    _next_vt: float = -1.0
    _lf_phase: float = 0.0
    _pending: tuple[float, str, np.ndarray] | None = None

    def __post_init__(self) -> None:
        rr = 60.0 / self.persona.resting_hr
        self._t_prev = -float(self.rng.uniform(0.2, 1.0)) * rr
        self._next_sinus = self._t_prev + rr
        self._lf_phase = float(self.rng.uniform(0, 2 * np.pi))
        has_af = self.persona.af_burden > 0 or self.persona.af_episodes_per_hour > 0
        self._next_af = self._draw_af_gap(0.0) if has_af else float("inf")
        self.forced = sorted(self.forced, key=lambda e: e.start)
        self._next_vt = self._draw_vt_gap(0.0) if self.persona.vt_runs_per_hour > 0 else float("inf")

    # --- episode planning -------------------------------------------------------------------------
    def _draw_af_gap(self, t: float) -> float:
        if self.persona.af_episodes_per_hour > 0:
            return t + float(self.rng.exponential(3600.0 / self.persona.af_episodes_per_hour))
        b = self.persona.af_burden
        return t + float(self.rng.exponential(60.0 * (1 - b) / b)) + 5.0

    def _draw_vt_gap(self, t: float) -> float:
        return t + float(self.rng.exponential(3600.0 / self.persona.vt_runs_per_hour)) + 3.0

    def _take_forced(self, label: str, t: float) -> Episode | None:
        for ep in self.forced:
            if ep.label == label and ep.start <= t:
                self.forced.remove(ep)
                return ep
        return None

    def _in_af(self, t: float) -> bool:
        if self.forced and t >= self._af_end:
            forced = self._take_forced("AF", t)
            if forced is not None:
                self._af_end = t + (forced.end - forced.start)
                self.episodes.append(Episode("AF", t, self._af_end))
                return True
        if t >= self._next_af:
            length = float(self.rng.uniform(self.persona.af_episode_min_s, self.persona.af_episode_max_s))
            self._af_end = self._next_af + length
            self.episodes.append(Episode("AF", self._next_af, self._af_end))
            self._next_af = self._draw_af_gap(self._af_end)
        return t < self._af_end

    # --- beats ------------------------------------------------------------------------------------
    def _sinus_rr(self, t: float) -> float:
        p = self.persona
        hr = float(self.hr_bpm(t)) if self.hr_bpm else p.resting_hr
        hrv = p.hrv * (float(self.hrv_scale(t)) if self.hrv_scale else 1.0)
        phase = float(self.resp_phase(t)) if self.resp_phase else 2 * np.pi * p.resp_rate / 60.0 * t
        self._ar = 0.7 * self._ar + float(self.rng.standard_normal()) * np.sqrt(1 - 0.49)
        mod = 1.0 + hrv * (0.9 * np.sin(phase) + 0.7 * np.sin(2 * np.pi * 0.1 * t + self._lf_phase) + 0.6 * self._ar)
        return float(max(0.27, 60.0 / hr * mod))

    def until(self, t_end: float) -> Beats:
        """All beats with R peak before ``t_end`` not yet returned."""
        times: list[float] = []
        labels: list[str] = []
        waves: list[np.ndarray] = []
        while True:
            t, label, w = self._next_beat()
            if t >= t_end:
                self._pending = (t, label, w)
                break
            times.append(t)
            labels.append(label)
            waves.append(w)
        if not times:
            return Beats.empty()
        return Beats(np.asarray(times), labels, np.stack(waves))

    def _next_beat(self) -> tuple[float, str, np.ndarray]:
        if self._pending is not None:
            beat, self._pending = self._pending, None
            return beat
        rng, p = self.rng, self.persona
        prev = self._t_prev
        rr = self._sinus_rr(prev)
        forced = self._take_forced("VT", prev) if self.forced and self._vt_left == 0 else None
        if forced is not None:
            self._vt_rate = float(rng.uniform(140, 220))
            run_rr = 60.0 / self._vt_rate
            self._vt_left = max(3, round((forced.end - forced.start) / run_rr))
            self.episodes.append(Episode("VT", prev + run_rr, prev + run_rr * self._vt_left))
        elif self._vt_left == 0 and self._next_vt <= prev:
            self._vt_left = int(rng.integers(3, 16))
            self._vt_rate = float(rng.uniform(140, 220))
            run_rr = 60.0 / self._vt_rate
            self.episodes.append(Episode("VT", prev + run_rr, prev + run_rr * self._vt_left))
            self._next_vt = self._draw_vt_gap(prev + run_rr * self._vt_left)
        if self._vt_left > 0:
            self._vt_left -= 1
            t = prev + 60.0 / self._vt_rate * (1 + 0.02 * float(rng.standard_normal()))
            if self._vt_left == 0:
                self._next_sinus = t + rr * 1.15
            return self._commit(t, "V", self._ventricular(t - prev, vt=True))
        if self._in_af(prev):
            af_rr = 60.0 / (p.resting_hr * 1.35) * float(rng.lognormal(0.0, 0.25))
            t = prev + float(np.clip(af_rr, 0.3, 1.8))
            if rng.random() < p.p_v and t - prev > 0.5:
                t = prev + (t - prev) * 0.7
                self._next_sinus = t + 0.6
                return self._commit(t, "V", self._ventricular(t - prev))
            self._next_sinus = t + rr
            return self._commit(t, "N", self._normal(t - prev, p_wave=False))
        u = rng.random()
        if u < p.p_s:
            t = prev + rr * float(rng.uniform(0.55, p.s_coupling_max))
            self._next_sinus = t + rr * float(rng.uniform(1.0, p.s_pause_max))
            return self._commit(t, "S", self._supraventricular(t - prev))
        u -= p.p_s
        if u < p.p_v:
            t = prev + rr * float(rng.uniform(0.5, 0.75))
            self._next_sinus = max(prev + 2 * rr, t + 0.35)
            return self._commit(t, "V", self._ventricular(t - prev))
        u -= p.p_v
        t = max(self._next_sinus, prev + 0.27)
        self._next_sinus = t + self._sinus_rr(t)
        if u < p.p_f:
            t -= float(rng.uniform(0.0, 0.05))
            return self._commit(t, "F", self._fusion(t - prev))
        u -= p.p_f
        if u < p.p_q:
            return self._commit(t, "Q", self._paced(t - prev))
        return self._commit(t, "N", self._normal(t - prev))

    def _commit(self, t: float, label: str, waves: np.ndarray) -> tuple[float, str, np.ndarray]:
        self._t_prev = t
        jitter = 1.0 + 0.05 * self.rng.standard_normal((N_WAVES, 2))
        waves[:, 1:] *= jitter
        return t, label, waves

    # --- morphology -------------------------------------------------------------------------------
    def _normal(self, rr_prev: float, p_wave: bool = True) -> np.ndarray:
        p = self.persona
        g, qw = p.ecg_gain, p.qrs_width
        t_off = 0.27 * np.sqrt(np.clip(rr_prev, 0.3, 1.6))
        return np.array(
            [
                (-p.pr_s, 0.022, p.p_amp if p_wave else 0.0),
                (-0.028 * qw, 0.009 * qw, -0.10 * g),
                (0.0, 0.011 * qw, p.r_amp * g),
                (0.028 * qw, 0.010 * qw, -p.s_amp * g),
                (t_off, 0.055, p.t_amp),
                (-0.05, 0.004, 0.0),
            ]
        )

    def _supraventricular(self, rr_prev: float) -> np.ndarray:
        w = self._normal(rr_prev)
        ectopic_p = (-self.persona.pr_s * float(self.rng.uniform(0.6, 0.9)), 0.02,
                     self.persona.p_amp * float(self.rng.uniform(-0.9, 0.5)))
        # an atrial focus near the sinus node gives a P wave like the sinus one: only the timing tells
        # (drawn only where the persona asks for it, so default signals stay as they were)
        sinus_like = self.persona.s_sinus_p > 0 and self.rng.random() < self.persona.s_sinus_p
        if not sinus_like:
            w[P] = ectopic_p
        # Aberrant conduction: an early impulse finds a bundle still refractory (~10 % of S beats).
        w[R, 1] *= float(self.rng.uniform(1.8, 2.4)) if self.rng.random() < 0.1 else float(self.rng.uniform(0.95, 1.1))
        return w

    def _ventricular(self, rr_prev: float, vt: bool = False) -> np.ndarray:
        p = self.persona
        sign, g, vw = p.v_sign, p.ecg_gain, p.v_width * (1.1 if vt else 1.0)
        return np.array(
            [
                (-0.16, 0.02, 0.0),
                (-0.04, 0.015, -0.1 * g * sign),
                (0.0, vw, p.v_amp * g * sign),
                (0.06, vw * 1.2, -0.5 / 1.4 * p.v_amp * g * sign),
                (0.33 if not vt else 0.2, 0.08, -0.45 * sign * float(self.rng.uniform(0.7, 1.2))),
                (-0.05, 0.004, 0.0),
            ]
        )

    def _fusion(self, rr_prev: float) -> np.ndarray:
        mix = float(self.rng.uniform(0.3, 0.7))
        w = (1 - mix) * self._normal(rr_prev) + mix * self._ventricular(rr_prev)
        w[P] = self._normal(rr_prev)[P]
        return w

    def _paced(self, rr_prev: float) -> np.ndarray:
        g = self.persona.ecg_gain
        w = self._ventricular(rr_prev)
        w[P, 2] = 0.5 * self.persona.p_amp
        w[R] = (0.0, 0.034, 1.0 * g)
        w[X] = (-0.045, 0.004, 1.8)
        return w
