"""Synthetic single-lead ECG: a sum-of-Gaussians PQRST per beat, with heart-rate variability.

Stateful and chunked: ``render(n)`` returns the next ``n`` samples, so a device can stream for hours
with constant memory and the same seed always gives the same signal.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# (offset from R in s, width in s, amplitude in mV) of P, Q, R, S and T waves at 60 bpm.
_WAVES = np.array(
    [
        (-0.20, 0.025, 0.15),
        (-0.035, 0.010, -0.12),
        (0.0, 0.011, 1.10),
        (0.035, 0.010, -0.28),
        (0.26, 0.055, 0.32),
    ]
)


@dataclass
class EcgSynth:
    fs: float
    hr_bpm: float
    rng: np.random.Generator
    hrv: float = 0.03
    noise_mv: float = 0.02
    _t: float = 0.0
    _beats: list[float] = field(default_factory=list)
    _next_beat: float = 0.25

    def _rr(self) -> float:
        return float(60.0 / self.hr_bpm * (1.0 + self.hrv * self.rng.standard_normal()))

    def render(self, n: int) -> np.ndarray:
        """The next ``n`` samples in mV."""
        t = self._t + np.arange(n) / self.fs
        t_end = self._t + n / self.fs
        while self._next_beat < t_end + 0.6:
            self._beats.append(self._next_beat)
            self._next_beat += self._rr()
        self._beats = [b for b in self._beats if b > self._t - 0.6]
        out = self.noise_mv * self.rng.standard_normal(n)
        out += 0.08 * np.sin(2 * np.pi * 0.25 * t)  # baseline wander (breathing)
        if self._beats:
            beats = np.asarray(self._beats)
            rr = 60.0 / self.hr_bpm
            stretch = np.array([1.0, 1.0, 1.0, 1.0, np.sqrt(rr)])  # QT shortens with rate
            centers = beats[:, None] + (_WAVES[:, 0] * stretch)[None, :]
            widths = _WAVES[:, 1][None, :]
            dt = (t[None, None, :] - centers[:, :, None]) / widths[:, :, None]
            out += np.einsum("w,bwn->n", _WAVES[:, 2], np.exp(-0.5 * dt * dt))
        self._t = t_end
        return out
