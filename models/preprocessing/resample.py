"""Sample-rate conversion and sliding windows shared by every model's preprocessing."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from scipy.signal import resample_poly


def resample(x: np.ndarray, fs_in: float, fs_out: float) -> np.ndarray:
    """Polyphase resampling along axis 0 (a no-op copy when the rates already match)."""
    arr = np.asarray(x, dtype=np.float64)
    if abs(fs_in - fs_out) < 1e-9:
        return arr.copy()
    ratio = Fraction(fs_out / fs_in).limit_denominator(1000)
    return np.asarray(resample_poly(arr, ratio.numerator, ratio.denominator, axis=0))


def sliding_windows(x: np.ndarray, window: int, hop: int) -> tuple[np.ndarray, np.ndarray]:
    """``(windows, starts)``: every full window of ``window`` rows every ``hop`` rows.

    ``windows`` has shape ``(k, window, *x.shape[1:])``; ``starts`` are the first row of each.
    """
    arr = np.asarray(x)
    if window <= 0 or hop <= 0:
        raise ValueError("window and hop must be positive")
    if arr.shape[0] < window:
        return np.zeros((0, window, *arr.shape[1:]), dtype=arr.dtype), np.zeros(0, dtype=np.int64)
    starts = np.arange(0, arr.shape[0] - window + 1, hop, dtype=np.int64)
    view = np.lib.stride_tricks.sliding_window_view(arr, window, axis=0)  # (n-w+1, ..., w)
    wins = np.moveaxis(view[starts], -1, 1)
    return np.ascontiguousarray(wins), starts
