"""Turning stored sample blocks into a downsampled series; shared by every backend."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from gateway.store.records import ReadingSeries, Series


def downsample(t_us: np.ndarray, values: np.ndarray, start_us: int, end_us: int, max_points: int) -> tuple[
    np.ndarray, np.ndarray
]:
    """Bucket means over ``[start_us, end_us]`` split into ``max_points`` equal buckets; empty buckets are dropped.

    When the range holds no more samples than ``max_points`` the samples come back unchanged.
    """
    mask = (t_us >= start_us) & (t_us <= end_us)
    t = t_us[mask]
    v = values[mask]
    if t.size <= max_points:
        return t.astype(np.int64), v.astype(np.float32)
    width = (end_us - start_us + 1) / max_points
    index = np.minimum(((t - start_us) / width).astype(np.int64), max_points - 1)
    counts = np.bincount(index, minlength=max_points)
    keep = counts > 0
    sums = np.stack(
        [np.bincount(index, weights=v[:, c].astype(np.float64), minlength=max_points) for c in range(v.shape[1])],
        axis=1,
    )
    means = (sums[keep] / counts[keep, None]).astype(np.float32)
    starts = (start_us + np.arange(max_points)[keep] * width).astype(np.int64)
    return starts, means


def frames_to_samples(frames: Sequence[tuple[int, float, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate ``(t0_us, rate, values)`` blocks into per-sample times and values."""
    if not frames:
        return np.zeros(0, np.int64), np.zeros((0, 1), np.float32)
    times = [t0 + np.round(np.arange(v.shape[0]) * (1e6 / rate)).astype(np.int64) for t0, rate, v in frames]
    return np.concatenate(times), np.concatenate([v for _, _, v in frames])


def series_of(
    device: str, stream: str, blocks: Sequence[tuple[int, float, np.ndarray]], start_us: int, end_us: int,
    max_points: int,
) -> Series:
    """The series of ``[start_us, end_us]`` out of the sample blocks that overlap it."""
    t, v = frames_to_samples(blocks)
    bt, bv = downsample(t, v, start_us, end_us, max_points)
    return Series(device, stream, start_us, end_us, bt, bv, int(((t >= start_us) & (t <= end_us)).sum()))


def readings_series(
    device: str, stream: str, rows: Sequence[tuple[int, Mapping[str, float]]], start_us: int, end_us: int,
    max_points: int,
) -> ReadingSeries:
    """The readings ``(t_us, values)`` of ``[start_us, end_us]`` as a :class:`ReadingSeries` (bucket mean, min,
    max per name, the same buckets as :func:`downsample`); rows outside the range are ignored."""
    inside = sorted((t, v) for t, v in rows if start_us <= t <= end_us)
    names = tuple(sorted({name for _t, values in inside for name in values}))
    t = np.asarray([r[0] for r in inside], dtype=np.int64)
    matrix = np.full((len(inside), len(names)), np.nan)
    column = {name: i for i, name in enumerate(names)}
    for row, (_t, values) in enumerate(inside):
        for name, value in values.items():
            matrix[row, column[name]] = value
    if t.size <= max_points:
        return ReadingSeries(device, stream, start_us, end_us, names, t, matrix, matrix.copy(), matrix.copy(), t.size)
    width = (end_us - start_us + 1) / max_points
    index = np.minimum(((t - start_us) / width).astype(np.int64), max_points - 1)
    keep = np.bincount(index, minlength=max_points) > 0
    shape = (max_points, len(names))
    present = ~np.isnan(matrix)
    sums, counts = np.zeros(shape), np.zeros(shape)
    low, high = np.full(shape, np.inf), np.full(shape, -np.inf)
    for c in range(len(names)):
        rows_c, values = index[present[:, c]], matrix[present[:, c], c]
        sums[:, c] = np.bincount(rows_c, weights=values, minlength=max_points)
        counts[:, c] = np.bincount(rows_c, minlength=max_points)
        np.minimum.at(low[:, c], rows_c, values)
        np.maximum.at(high[:, c], rows_c, values)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(counts > 0, sums / np.where(counts > 0, counts, 1), np.nan)
    low[counts == 0] = np.nan
    high[counts == 0] = np.nan
    starts = (start_us + np.arange(max_points)[keep] * width).astype(np.int64)
    return ReadingSeries(device, stream, start_us, end_us, names, starts, mean[keep], low[keep], high[keep], t.size)
