"""Synthetic waist accelerometer: gravity, gait oscillation while walking, sensor noise (in g)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class AccelSynth:
    fs: float
    rng: np.random.Generator
    cadence_hz: float = 1.8
    walking: bool = True
    noise_g: float = 0.02
    _t: float = 0.0

    def render(self, n: int) -> np.ndarray:
        """The next ``n`` samples, shape ``(n, 3)``: x forward, y lateral, z vertical."""
        t = self._t + np.arange(n) / self.fs
        out = self.noise_g * self.rng.standard_normal((n, 3))
        out[:, 2] += 1.0
        if self.walking:
            phase = 2 * np.pi * self.cadence_hz * t
            out[:, 2] += 0.25 * np.sin(phase)
            out[:, 0] += 0.12 * np.sin(phase + 0.8)
            out[:, 1] += 0.06 * np.sin(0.5 * phase)
        self._t += n / self.fs
        return out
