"""Fall-model input, two generations.

**Version 2 (orientation-invariant, :data:`INVARIANT_VERSION`)** — :func:`invariant_channels` and
:func:`impact_window`. A sensor can be clipped to a belt, slipped into a pocket or strapped on upside
down; its axes then mean nothing, so the model must see only quantities that a rotation of the sensor
leaves unchanged. Every channel is built from vector norms and dot products of the measured vectors
with a gravity direction estimated *from the signal itself*:

* gravity ``g(t)``: the accelerometer low-passed per axis (first-order, time constant
  :data:`GRAVITY_TAU_S`), started at the mean of the window's first :data:`REFERENCE_S`; a linear
  filter applied axis by axis commutes with any rotation, so ``R a`` gives ``R g``;
* ``|a|`` (g) — impacts and free fall;
* ``a . ĝ`` (g) — the vertical component, 1 g at rest whatever the mount;
* ``|a - (a . ĝ) ĝ|`` (g) — the horizontal magnitude;
* the angle between ``ĝ(t)`` and the window's first gravity direction (rad) — how far the trunk has
  tilted since the window began (a fall ends about 90 deg away; standing still, 0);
* ``|w . ĝ|`` and ``|w - (w . ĝ) ĝ|`` (100 deg/s) — rotation about the vertical (turning) and about a
  horizontal axis (tipping over); both zero without a gyroscope.

Why this and not a fixed axis convention: a declared placement tells *where* the sensor is, never
how it is turned, and the 1.0.0 model (trained on ``z`` up) raised 9x more false alarms on real
data worn with ``x`` up. The absolute posture (lying vs standing) cannot be read from one gravity
vector without knowing the mount, so the model sees the *change* of orientation instead, and
:mod:`models.fall_logic` compares gravity before and after the impact. Under a rotation the input
is the same to float rounding (``tests/models/test_motion_invariance.py``).

**Version 1** (:func:`motion_channels`, :func:`motion_windows`) — the raw axes the released 1.0.0
model read: acceleration in g and angular rate in hundreds of deg/s. The edge no longer makes it
(its fall pipeline makes version 2 only, so a 1.x model is refused there: :data:`RUNS_MAJORS`); the
functions stay for the simulated window datasets of ``cloud.data`` that still use them.

Scaling is fixed (not per window) so that the size of an impact survives; every channel is clipped
to +-:data:`CLIP` so one glitch cannot dominate int8 scaling.
"""

from __future__ import annotations

import numpy as np

from models.preprocessing.resample import resample, sliding_windows

MOTION_RATE_HZ = 50.0
WINDOW_S = 2.0
HOP_S = 0.5
WINDOW = round(WINDOW_S * MOTION_RATE_HZ)
HOP = round(HOP_S * MOTION_RATE_HZ)
#: acc x, y, z (g) then gyro x, y, z (100 deg/s).
CHANNELS = 6
GYRO_UNIT_DPS = 100.0
CLIP = 8.0

#: Output version of the orientation-invariant input (:func:`invariant_channels`); recorded with
#: every model that reads it. Version 1 is the raw-axes input of :func:`motion_channels`.
INVARIANT_VERSION = "2.0.0"
#: Majors of input the edge makes with this module: the orientation-invariant input only. A model
#: reading raw axes (1.x, the fall model 1.0.0) would be fed windows it was never trained on.
RUNS_MAJORS = ("2",)
#: Time constant of the gravity low-pass (s): long enough to ride over a step or an impact,
#: short enough to follow a fall's 90-degree turn within about a second.
GRAVITY_TAU_S = 0.3
#: The first part of a window whose mean acceleration starts the gravity estimate (s).
REFERENCE_S = 0.4
#: Where the impact sits in an impact-centred window (s from its start): 1.4 s of descent before,
#: 0.6 s of impact and settling after.
IMPACT_AT_S = 1.4
IMPACT_INDEX = round(IMPACT_AT_S * MOTION_RATE_HZ)
#: Names of the invariant channels, in order.
INVARIANT_CHANNELS = ("acc_norm", "acc_vertical", "acc_horizontal", "tilt_rad", "gyro_vertical", "gyro_horizontal")


def motion_channels(
    acc: np.ndarray, acc_fs: float, gyro: np.ndarray | None = None, gyro_fs: float | None = None
) -> np.ndarray:
    """``(n, 6)`` float32 at :data:`MOTION_RATE_HZ`; a missing gyroscope reads as zero rotation."""
    a = resample(np.asarray(acc, dtype=np.float64).reshape(len(acc), -1)[:, :3], acc_fs, MOTION_RATE_HZ)
    if gyro is None:
        return _stack_channels(a, None)
    g = resample(np.asarray(gyro, dtype=np.float64).reshape(len(gyro), -1)[:, :3], gyro_fs or acc_fs, MOTION_RATE_HZ)
    return _stack_channels(a, g)


def motion_channels_many(
    acc: np.ndarray, acc_fs: float, gyro: np.ndarray | None = None, gyro_fs: float | None = None
) -> np.ndarray:
    """:func:`motion_channels` of many windows at once: ``acc`` ``(k, n, 3)`` and ``gyro`` ``(k, m, 3)``
    (or ``None``) give ``(k, n', 6)``, each row exactly what :func:`motion_channels` gives for it."""
    a = _resample_rows(np.asarray(acc, dtype=np.float64)[:, :, :3], acc_fs)
    if gyro is None:
        return _stack_channels(a, None)
    return _stack_channels(a, _resample_rows(np.asarray(gyro, dtype=np.float64)[:, :, :3], gyro_fs or acc_fs))


def _resample_rows(x: np.ndarray, fs: float) -> np.ndarray:
    """:func:`resample` to :data:`MOTION_RATE_HZ` of each row of ``(k, n, c)`` (time on axis 1)."""
    return np.moveaxis(resample(np.moveaxis(x, 1, 0), fs, MOTION_RATE_HZ), 0, 1)


def _stack_channels(a: np.ndarray, g: np.ndarray | None) -> np.ndarray:
    """Acceleration (g) and rotation (deg/s), at the model rate with time on axis -2, as model
    channels: gyro in :data:`GYRO_UNIT_DPS`, clipped, float32; no gyroscope reads as zero rotation."""
    g = np.zeros_like(a) if g is None else g / GYRO_UNIT_DPS
    n = min(a.shape[-2], g.shape[-2])
    out = np.concatenate([a[..., :n, :], g[..., :n, :]], axis=-1)
    return np.clip(out, -CLIP, CLIP).astype(np.float32)


def motion_windows(
    acc: np.ndarray, acc_fs: float, gyro: np.ndarray | None = None, gyro_fs: float | None = None, hop: int = HOP
) -> tuple[np.ndarray, np.ndarray]:
    """``(windows (k, WINDOW, 6), start times in s)`` of a recording, as the edge cuts them."""
    x = motion_channels(acc, acc_fs, gyro, gyro_fs)
    wins, starts = sliding_windows(x, WINDOW, hop)
    return wins.astype(np.float32), starts / MOTION_RATE_HZ


# -- version 2: orientation-invariant input ----------------------------------------------------------


def invariant_channels(
    acc: np.ndarray, acc_fs: float, gyro: np.ndarray | None = None, gyro_fs: float | None = None
) -> np.ndarray:
    """``(n, 6)`` float32 at :data:`MOTION_RATE_HZ`: the :data:`INVARIANT_CHANNELS` of one stretch
    of acceleration (g, ``(n, 3)``) and angular rate (deg/s, ``(m, 3)``, optional).

    Gravity is estimated within the stretch (see the module docstring), so the result depends only on
    these samples: a window cut at the edge and the same window cut in training give the same input.
    """
    a = np.asarray(acc, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] < 3:
        raise ValueError(f"acc: expected (n, 3) samples in g, got shape {a.shape}")
    g = None if gyro is None else np.asarray(gyro, dtype=np.float64)[None, :, :3]
    return invariant_channels_many(a[None, :, :3], acc_fs, g, gyro_fs)[0]


def invariant_channels_many(
    acc: np.ndarray, acc_fs: float, gyro: np.ndarray | None = None, gyro_fs: float | None = None
) -> np.ndarray:
    """:func:`invariant_channels` of ``k`` stretches at once: ``acc`` ``(k, n, 3)``, ``gyro``
    ``(k, m, 3)`` or ``None``; gives ``(k, n', 6)``."""
    a = _resample_rows(np.asarray(acc, dtype=np.float64)[:, :, :3], acc_fs)
    n = a.shape[1]
    if n == 0:
        return np.zeros((a.shape[0], 0, CHANNELS), dtype=np.float32)
    if gyro is not None:
        w = _resample_rows(np.asarray(gyro, dtype=np.float64)[:, :, :3], gyro_fs or acc_fs)
        n = min(n, w.shape[1])
        w = w[:, :n]
    a = a[:, :n]
    grav = gravity_estimate(a, MOTION_RATE_HZ)
    unit = grav / np.maximum(np.linalg.norm(grav, axis=-1, keepdims=True), 1e-6)
    norm = np.linalg.norm(a, axis=-1)
    vertical = np.sum(a * unit, axis=-1)
    horizontal = np.sqrt(np.maximum(norm**2 - vertical**2, 0.0))
    tilt = np.arccos(np.clip(np.sum(unit * unit[:, :1], axis=-1), -1.0, 1.0))
    if gyro is None:
        w_vertical = w_horizontal = np.zeros_like(norm)
    else:
        w_dot = np.sum(w * unit, axis=-1)
        w_vertical = np.abs(w_dot) / GYRO_UNIT_DPS
        w_norm2 = np.sum(w * w, axis=-1)
        w_horizontal = np.sqrt(np.maximum(w_norm2 - w_dot**2, 0.0)) / GYRO_UNIT_DPS
    out = np.stack([norm, vertical, horizontal, tilt, w_vertical, w_horizontal], axis=-1)
    return np.clip(out, -CLIP, CLIP).astype(np.float32)


def gravity_estimate(acc: np.ndarray, fs: float, tau_s: float = GRAVITY_TAU_S) -> np.ndarray:
    """First-order low-pass of ``(..., n, 3)`` acceleration along the time axis, started at the mean
    of the first :data:`REFERENCE_S` (so a window's estimate never depends on what came before it)."""
    from scipy.signal import lfilter

    x = np.asarray(acc, dtype=np.float64)
    alpha = 1.0 - np.exp(-1.0 / (tau_s * fs))
    start = x[..., : max(1, round(REFERENCE_S * fs)), :].mean(axis=-2, keepdims=True)
    # y[t] = (1 - alpha) y[t-1] + alpha x[t], with y[-1] = start
    zi = (1.0 - alpha) * np.moveaxis(start, -2, -1)
    y, _ = lfilter([alpha], [1.0, -(1.0 - alpha)], np.moveaxis(x, -2, -1), axis=-1, zi=zi)
    return np.asarray(np.moveaxis(y, -1, -2))


def impact_window_bounds(peak_index: int, fs: float) -> tuple[int, int]:
    """``(start, stop)`` sample indices, at rate ``fs``, of the :data:`WINDOW_S` window that puts the
    sample ``peak_index`` at :data:`IMPACT_AT_S`."""
    start = peak_index - round(IMPACT_AT_S * fs)
    return start, start + round(WINDOW_S * fs)


def impact_window(
    acc: np.ndarray, fs: float, peak_index: int, gyro: np.ndarray | None = None
) -> np.ndarray | None:
    """The model input ``(WINDOW, 6)`` for an impact at sample ``peak_index`` of ``acc`` (and of
    ``gyro``, at the same rate ``fs``), or ``None`` when the recording does not cover the window."""
    start, stop = impact_window_bounds(peak_index, fs)
    if start < 0 or stop > len(acc):
        return None
    g = None if gyro is None else gyro[start:stop]
    x = invariant_channels(acc[start:stop], fs, g, fs)
    if len(x) < WINDOW:
        x = np.concatenate([x, np.repeat(x[-1:], WINDOW - len(x), axis=0)])
    return x[:WINDOW]
