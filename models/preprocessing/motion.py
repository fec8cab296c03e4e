"""Fall-model input: accelerometer + gyroscope resampled to one rate, cut into sliding windows.

Scaling is fixed (not per window) so that the size of an impact survives: acceleration in g and
angular rate in hundreds of deg/s, both clipped to +-8 so one glitch cannot dominate int8 scaling.
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
