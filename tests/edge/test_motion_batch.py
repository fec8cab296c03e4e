"""Batched motion checks are the per-window ones, to the bit: quality, model input, arrivals.

The fall pipeline cuts the windows of every due device in one numpy pass; each reference below is
the per-window code it replaced (or the shared function it must agree with).
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.arrivals import ArrivalLog
from edge.dsp.quality import ACC_FULL_SCALE_G, CLIPPED_SHARE, motion_quality, motion_quality_many
from models.preprocessing import motion
from models.preprocessing.resample import resample


def reference_motion_quality(acc: np.ndarray) -> str | None:
    """The per-window check before batching."""
    a = np.asarray(acc, dtype=np.float64)
    if a.shape[0] < 2:
        return "flat_line"
    if float(np.max(np.ptp(a, axis=0))) < 1e-4:
        return "flat_line"
    if float(np.mean(np.abs(a) >= ACC_FULL_SCALE_G)) > CLIPPED_SHARE * 2:
        return "saturation"
    return None


def reference_motion_channels(
    acc: np.ndarray, acc_fs: float, gyro: np.ndarray | None = None, gyro_fs: float | None = None
) -> np.ndarray:
    """``motion_channels`` as training used it before the batched variant shared its code."""
    a = resample(np.asarray(acc, dtype=np.float64).reshape(len(acc), -1)[:, :3], acc_fs, motion.MOTION_RATE_HZ)
    if gyro is None:
        g = np.zeros_like(a)
    else:
        g = resample(
            np.asarray(gyro, dtype=np.float64).reshape(len(gyro), -1)[:, :3], gyro_fs or acc_fs, motion.MOTION_RATE_HZ
        )
        g = g / motion.GYRO_UNIT_DPS
    n = min(len(a), len(g))
    out = np.concatenate([a[:n], g[:n]], axis=1)
    return np.clip(out, -motion.CLIP, motion.CLIP).astype(np.float32)


def motion_like(rng: np.random.Generator, k: int, n: int) -> np.ndarray:
    """Accelerometer windows (float32, g) of every kind the checks tell apart."""
    w = np.empty((k, n, 3), dtype=np.float32)
    w[:] = rng.normal(0.0, 0.3, (k, n, 3)) + np.array([0.0, 0.0, 1.0])
    w[0] = [0.0, 0.0, 1.0]  # dead sensor
    w[1] = np.clip(w[1] * 30, -8, 8)  # clipped
    w[2, n // 2] = [3.0, 2.0, 6.5]  # impact
    w[3, : n // 4] = 0.05  # free fall
    w[4] = np.float32(ACC_FULL_SCALE_G)  # stuck at the rail: flat wins
    w[5, : n // 40] = 7.9  # at the rail for a share right at the limit
    w[6, :3, 2] = np.float32(-7.9)
    w[7] = [0.0, 0.0, 1.0]
    w[7, n // 3, 1] = 5e-5  # almost flat
    return w


def test_quality_of_many_windows_is_the_per_window_verdict() -> None:
    rng = np.random.default_rng(5)
    for n in (2, 40, 100, 200):
        windows = motion_like(rng, 40, n)
        expected = [reference_motion_quality(w) for w in windows]
        assert motion_quality_many(windows) == expected
        assert motion_quality_many(windows.astype(np.float64)) == expected
        assert [motion_quality(w) for w in windows] == expected
    assert set(expected) == {None, "flat_line", "saturation"}
    assert motion_quality(np.zeros((1, 3))) == motion_quality(np.zeros((0, 3))) == "flat_line"
    nan = np.full((50, 3), 8.5)
    nan[:, 1] = np.nan
    assert motion_quality_many(nan[None]) == [reference_motion_quality(nan)] == ["saturation"]


def test_motion_channels_match_the_training_code_for_recordings_and_windows() -> None:
    rng = np.random.default_rng(3)
    for acc_fs, gyro_fs in ((50.0, 50.0), (100.0, 100.0), (60.0, 50.0), (100.0, None)):
        acc = rng.normal(0, 2, (int(acc_fs * 7), 3))
        gyro = None if gyro_fs is None else rng.normal(0, 300, (int(gyro_fs * 7), 3))
        assert np.array_equal(motion.motion_channels(acc, acc_fs, gyro, gyro_fs),
                              reference_motion_channels(acc, acc_fs, gyro, gyro_fs))
        n, m = round(2 * acc_fs), round(2 * (gyro_fs or acc_fs))
        acc_w = rng.normal(0, 2, (9, n, 3)).astype(np.float32)
        gyro_w = None if gyro_fs is None else rng.normal(0, 300, (9, m, 3)).astype(np.float32)
        many = motion.motion_channels_many(acc_w, acc_fs, gyro_w, gyro_fs)
        for i in range(9):
            one = reference_motion_channels(acc_w[i], acc_fs, None if gyro_w is None else gyro_w[i], gyro_fs)
            assert many.dtype == one.dtype and np.array_equal(many[i], one)


def reference_arrival_of(frames: list[tuple[int, int]], keep: int, t_us: int) -> int:
    """The linear scan over the newest ``keep`` frames that the binary search replaced."""
    kept = frames[-keep:]
    for t_last, arrival in kept:
        if t_last >= t_us:
            return arrival
    return kept[-1][1] if kept else 0


@settings(max_examples=200, deadline=None)
@given(
    steps=st.lists(st.integers(-300, 1_000), min_size=0, max_size=150),
    keep=st.integers(1, 70),
    probes=st.lists(st.integers(-1_000, 80_000), min_size=1, max_size=12),
)
def test_arrival_lookup_is_the_scan_it_replaced(steps: list[int], keep: int, probes: list[int]) -> None:
    """Mostly increasing device times, with clock steps back (negative steps) and repeats."""
    log = ArrivalLog(keep)
    frames: list[tuple[int, int]] = []
    t = 0
    for i, step in enumerate(steps):
        t += step
        log.add(t, 1_000 + i)
        frames.append((t, 1_000 + i))
        for probe in (*probes, t, t - step):
            assert log.arrival_of(probe) == reference_arrival_of(frames, keep, probe)
    for probe in probes:
        assert log.arrival_of(probe) == reference_arrival_of(frames, keep, probe)
