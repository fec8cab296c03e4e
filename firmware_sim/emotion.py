"""Emotion/stress band: ECG, EDA, PPG and respiration driven by baseline, stress and amusement
episodes (a WESAD-like protocol: Schmidt et al. 2018).

Effects, scaled by the persona's ``stress_reactivity`` (Kreibig 2010; Schmidt et al. 2018;
Boucsein, *Electrodermal Activity*):

* **stress** (TSST-like): heart rate +10-25 bpm, HRV down ~45 %, respiration +4-7 breaths/min and
  shallower, skin-conductance level up 1-3 uS with ~8 responses/min, peripheral vasoconstriction
  (PPG amplitude -30 %).
* **amusement**: heart rate +2-6 bpm, HRV slightly up, respiration a little faster and irregular,
  ~4 skin-conductance responses/min, SCL +0.5 uS.
* **baseline**: ~1.5 non-specific responses/min.

Level changes ramp over ~15 s, as autonomic responses do. :class:`EmotionStream` renders any number
of consecutive blocks with continuous signals (the EDA responses' tails carry over).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from firmware_sim.cardiac import BeatGenerator, Beats
from firmware_sim.ecg import EcgStream, render_beats
from firmware_sim.persona import Persona

RATES = {"ecg": 250.0, "eda": 4.0, "ppg": 64.0, "resp": 32.0}
CONTROL_HZ = 4.0
RAMP_S = 15.0

# episode -> (HR delta bpm, HRV scale, resp rate delta /min, resp depth, SCR /min, SCL delta uS, PPG amp)
EFFECTS: dict[str, tuple[float, float, float, float, float, float, float]] = {
    "baseline": (0.0, 1.0, 0.0, 1.0, 1.5, 0.0, 1.0),
    "stress": (17.0, 0.55, 5.5, 0.8, 8.0, 2.0, 0.7),
    "amusement": (4.0, 1.1, 1.5, 1.05, 4.0, 0.5, 0.95),
}
#: Protocol: (episode, share of a cycle); stress and amusement swap order per subject.
PROTOCOL = (("baseline", 0.3), ("stress", 0.25), ("baseline", 0.15), ("amusement", 0.15), ("baseline", 0.15))


def plan_episodes(rng: np.random.Generator, seconds: float) -> list[tuple[float, float, str]]:
    """One protocol cycle over ``seconds``: (start, end, label) with jittered durations."""
    order = list(PROTOCOL)
    if rng.random() < 0.5:
        order[1], order[3] = order[3], order[1]
    shares = np.array([share for _, share in order]) * rng.uniform(0.8, 1.2, len(order))
    bounds = np.concatenate([[0.0], np.cumsum(shares / shares.sum()) * seconds])
    return [(float(bounds[i]), float(bounds[i + 1]), label) for i, (label, _) in enumerate(order)]


@dataclass
class EmotionStream:
    """Blocks of the four signals for one persona; ``episodes`` is the truth (absolute seconds)."""

    persona: Persona
    rng: np.random.Generator
    cycle_s: float = 600.0
    ecg_hz: float = RATES["ecg"]
    #: heart-rate change from elsewhere (a deterioration course), added to the episodes' rate
    hr_offset: Callable[[float], float] | None = None
    episodes: list[tuple[float, float, str]] = field(default_factory=list)
    _t: float = 0.0
    _grid_t: np.ndarray = field(default_factory=lambda: np.zeros(0))
    _levels: np.ndarray = field(default_factory=lambda: np.zeros((0, 7)))
    _resp_phase: np.ndarray = field(default_factory=lambda: np.zeros(0))
    _eda_tail: np.ndarray = field(default_factory=lambda: np.zeros(0))
    _ecg: EcgStream | None = None

    def __post_init__(self) -> None:
        p = self.persona
        offset = self.hr_offset
        gen = BeatGenerator(p, self.rng, hr_bpm=(lambda t: self._control(t, 0)) if offset is None
                            else (lambda t: self._control(t, 0) + offset(t)),
                            hrv_scale=lambda t: self._control(t, 1), resp_phase=self._phase)
        self._ecg = EcgStream(p, self.ecg_hz, self.rng, gen)
        self._extend_plan(self.cycle_s)

    # --- control signals on a 4 Hz grid, planned a cycle ahead -----------------------------------
    def _extend_plan(self, until: float) -> None:
        p = self.persona
        if self.episodes and self.episodes[-1][1] >= until:
            return
        while not self.episodes or self.episodes[-1][1] < until:
            start = self.episodes[-1][1] if self.episodes else 0.0
            self.episodes.extend((a + start, b + start, lab) for a, b, lab in plan_episodes(self.rng, self.cycle_s))
        t = np.arange(0.0, self.episodes[-1][1] + 2.0, 1 / CONTROL_HZ)
        target = np.zeros((len(t), 7))
        k = p.stress_reactivity
        for a, b, lab in self.episodes:
            d_hr, hrv, d_rr, depth, scr, d_scl, ppg = EFFECTS[lab]
            row = (p.resting_hr + k * d_hr, 1 + k * (hrv - 1), p.resp_rate + k * d_rr, depth, scr * (0.5 + 0.5 * k),
                   p.eda_scl + k * d_scl, ppg)
            target[(t >= a) & (t < b)] = row
        target[t >= self.episodes[-1][1]] = target[(t < self.episodes[-1][1])][-1]
        alpha = 1 - np.exp(-1 / (CONTROL_HZ * RAMP_S / 3))
        # First-order lag (autonomic responses ramp, they do not jump):
        # levels[i] = levels[i-1] + alpha * (target[i] - levels[i-1]), starting at target[0].
        from scipy.signal import lfilter

        levels, _ = lfilter([alpha], [1, alpha - 1], target, axis=0, zi=(1 - alpha) * target[:1])
        rate = levels[:, 2] * (1 + 0.06 * np.convolve(self.rng.standard_normal(len(t)), np.ones(8) / 8, "same") * 2.8)
        phase = np.concatenate([[0.0], np.cumsum(2 * np.pi * rate[:-1] / 60.0 / CONTROL_HZ)])
        if len(self._resp_phase):  # keep what was already used identical
            keep = len(self._resp_phase)
            phase[:keep] = self._resp_phase
            phase[keep:] = self._resp_phase[-1] + np.cumsum(2 * np.pi * rate[keep - 1:-1] / 60.0 / CONTROL_HZ)
            levels[:keep] = self._levels
        self._grid_t, self._levels, self._resp_phase = t, levels, phase

    def _control(self, t: float | np.ndarray, column: int) -> np.ndarray:
        return np.interp(t, self._grid_t, self._levels[:, column])

    def _phase(self, t: float | np.ndarray) -> np.ndarray:
        return np.interp(t, self._grid_t, self._resp_phase)

    # --- rendering --------------------------------------------------------------------------------
    def render(self, seconds: float) -> dict[str, np.ndarray]:
        """The next ``seconds`` of every signal, each shaped ``(n, 1)``, float32."""
        assert self._ecg is not None
        t0 = self._t
        self._extend_plan(t0 + seconds + self.cycle_s / 2)
        n_ecg = round(seconds * self.ecg_hz)
        out = {"ecg": self._ecg.render(n_ecg)}
        out["ppg"] = self._ppg(t0, round(seconds * RATES["ppg"]))
        out["resp"] = self._resp(t0, round(seconds * RATES["resp"]))
        out["eda"] = self._eda(t0, round(seconds * RATES["eda"]))
        self._t = t0 + seconds
        return {k: v.astype(np.float32)[:, None] for k, v in out.items()}

    def beats_before(self, t: float) -> np.ndarray:
        """R-peak times (s) of the recent beats before ``t``."""
        assert self._ecg is not None
        times = self._ecg.beats.t
        return times[: int(np.searchsorted(times, t))]

    def take_beats(self) -> list[tuple[float, str]]:
        assert self._ecg is not None
        return self._ecg.take_beats()

    def _ppg(self, t0: float, n: int) -> np.ndarray:
        assert self._ecg is not None
        beats = self._ecg.beats
        fs = RATES["ppg"]
        amp = self._control(beats.t, 6) if len(beats.t) else np.zeros(0)
        ptt = 0.22 + 0.02 * np.sin(self.persona.age)  # pulse transit time to the wrist
        waves = np.zeros((len(beats.t), 6, 3))
        waves[:, 0] = np.stack([np.full(len(amp), ptt), np.full(len(amp), 0.07), amp], axis=1)  # systolic
        waves[:, 1] = np.stack([np.full(len(amp), ptt + 0.3), np.full(len(amp), 0.1), 0.35 * amp], axis=1)  # diastolic
        waves[:, 2, 1] = 1.0
        waves[:, 3:, 1] = 1.0
        pulses = render_beats(Beats(beats.t, beats.labels, waves), t0, n, fs, before_s=0.0, after_s=1.0)
        t = t0 + np.arange(n) / fs
        return pulses + 0.08 * np.sin(self._phase(t)) + 0.02 * self.rng.standard_normal(n)

    def _resp(self, t0: float, n: int) -> np.ndarray:
        t = t0 + np.arange(n) / RATES["resp"]
        ph = self._phase(t)
        depth = self._control(t, 3)
        return depth * (np.sin(ph) + 0.15 * np.sin(2 * ph + 0.7)) + 0.03 * self.rng.standard_normal(n)

    def _eda(self, t0: float, n: int) -> np.ndarray:
        """Tonic level plus skin-conductance responses (bi-exponential, onsets a Poisson process whose
        rate follows the episode) in uS."""
        fs = RATES["eda"]
        t = t0 + np.arange(n) / fs
        rate_per_s = self._control(t, 4) / 60.0
        onsets = self.rng.random(n) < rate_per_s / fs
        amps = np.where(onsets, self.persona.scr_amp * self.rng.lognormal(0.0, 0.4, n), 0.0)
        amps *= np.where(self._control(t, 4) > 5, 1.6, 1.0)  # responses are larger under stress
        k = np.arange(0, 30.0, 1 / fs)
        kernel = np.exp(-k / 3.0) - np.exp(-k / 0.75)
        kernel /= kernel.max()
        phasic = np.convolve(amps, kernel)
        tail = self._eda_tail
        phasic[: len(tail)] += tail
        self._eda_tail = phasic[n:]
        tonic = self._control(t, 5) + 0.2 * np.sin(2 * np.pi * t / 400.0)
        return tonic + phasic[:n] + 0.005 * self.rng.standard_normal(n)
