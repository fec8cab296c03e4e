"""Lesion outlines: ellipses, lobulated, spiculated and irregular shapes, as a radial field.

A shape is a star-shaped outline around its centre: in the frame of an ellipse (half-axes
``radius * sqrt(aspect)`` and ``radius / sqrt(aspect)``, rotated by ``angle``) the outline lies at
normalised radius ``r(theta) = 1 + harmonics + spikes``. :func:`radial_field` gives every pixel's
normalised distance ``rho / r(theta)``: the lesion is ``<= 1``, a rim is just above 1, and a soft
edge is a smooth function of it. Coordinates are fractions of the image width/height.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SHAPES = ("ellipse", "lobulated", "spiculated", "irregular")
#: Equivalent radius of a lesion, as a fraction of the image size: from tiny (~4 px of a 128-px
#: image) to large (~29 px).
RADIUS_RANGE = (0.04, 0.23)


@dataclass(frozen=True, slots=True)
class Outline:
    kind: str
    cx: float
    cy: float
    radius: float
    aspect: float
    angle: float
    #: (k, amplitude, phase) of each harmonic of r(theta)
    harmonics: tuple[tuple[int, float, float], ...] = ()
    #: (angle, length, width) of each spicule
    spikes: tuple[tuple[float, float, float], ...] = ()

    def radius_at(self, theta: np.ndarray) -> np.ndarray:
        r = np.ones_like(theta)
        for k, amp, phase in self.harmonics:
            r = r + amp * np.cos(k * theta + phase)
        for at, length, width in self.spikes:
            d = np.angle(np.exp(1j * (theta - at)))  # wrapped to (-pi, pi]
            r = r + length * np.exp(-0.5 * (d / width) ** 2)
        return np.maximum(r, 0.35)


def draw_radius(rng: np.random.Generator, low: float = RADIUS_RANGE[0], high: float = RADIUS_RANGE[1]) -> float:
    """Equivalent radius, uniform in the square root of the radius: between log-uniform (as many tiny as
    large lesions per octave) and uniform, so tiny lesions are common without dominating."""
    return float(rng.uniform(np.sqrt(low), np.sqrt(high)) ** 2)


def draw_outline(rng: np.random.Generator, kind: str, cx: float, cy: float, radius: float) -> Outline:
    """A random outline of ``kind`` (one of :data:`SHAPES`) centred at ``(cx, cy)``."""
    if kind not in SHAPES:
        raise ValueError(f"shape must be one of {SHAPES}, got {kind!r}")
    aspect = float(np.exp(rng.uniform(np.log(0.5), np.log(2.0))))
    angle = float(rng.uniform(-np.pi, np.pi))
    harmonics: list[tuple[int, float, float]] = []
    spikes: list[tuple[float, float, float]] = []
    if kind == "lobulated":
        for k in rng.choice(np.arange(2, 6), size=int(rng.integers(1, 3)), replace=False):
            harmonics.append((int(k), float(rng.uniform(0.1, 0.25)), float(rng.uniform(0, 2 * np.pi))))
    elif kind == "spiculated":
        aspect = float(np.exp(rng.uniform(np.log(0.7), np.log(1.4))))
        for _ in range(int(rng.integers(6, 15))):
            spikes.append((float(rng.uniform(-np.pi, np.pi)), float(rng.uniform(0.3, 0.9)),
                           float(rng.uniform(0.04, 0.1))))
    elif kind == "irregular":
        for k in range(2, 10):
            harmonics.append((k, float(rng.uniform(0.0, 0.22) / np.sqrt(k - 1)), float(rng.uniform(0, 2 * np.pi))))
    return Outline(kind, cx, cy, radius, aspect, angle, tuple(harmonics), tuple(spikes))


def radial_field(outline: Outline, xx: np.ndarray, yy: np.ndarray) -> np.ndarray:
    """Normalised distance of every pixel from the centre: ``<= 1`` inside the outline."""
    c, s = np.cos(outline.angle), np.sin(outline.angle)
    rx = outline.radius * np.sqrt(outline.aspect)
    ry = outline.radius / np.sqrt(outline.aspect)
    u = ((xx - outline.cx) * c + (yy - outline.cy) * s) / rx
    v = (-(xx - outline.cx) * s + (yy - outline.cy) * c) / ry
    return np.asarray(np.hypot(u, v) / outline.radius_at(np.arctan2(v, u)))


def soft_inside(d: np.ndarray, edge: float) -> np.ndarray:
    """1 inside, 0 outside, with a smooth edge ``edge`` (in units of the normalised radius) wide."""
    if edge <= 0:
        return (d <= 1.0).astype(np.float64)
    return np.asarray(1.0 / (1.0 + np.exp(np.clip((d - 1.0) / (edge / 4.0), -50.0, 50.0))))
