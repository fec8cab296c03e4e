"""ECG conditioning, R-peak detection and heart rate.

R-peaks follow the Pan-Tompkins idea with scipy building blocks: band-pass (Butterworth, zero
phase), squared slope, moving-window integration, then ``scipy.signal.find_peaks`` with a
refractory distance, each peak snapped to the largest band-passed deflection nearby.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import uniform_filter1d
from scipy.signal import find_peaks, sosfiltfilt

from models.preprocessing.filters import butter_sos

#: Physiological limits used to reject implausible RR intervals (30..220 bpm).
MIN_RR_S = 60.0 / 220.0
MAX_RR_S = 60.0 / 30.0


def bandpass(signal: np.ndarray, fs: float, low_hz: float = 5.0, high_hz: float = 20.0) -> np.ndarray:
    """Zero-phase Butterworth band-pass (2nd order each side) along the last axis."""
    high = min(high_hz, 0.45 * fs)
    sos = butter_sos(2, (low_hz, high), "bandpass", fs)
    return np.asarray(sosfiltfilt(sos, np.asarray(signal, dtype=np.float64), axis=-1))


def detect_r_peaks(signal: np.ndarray, fs: float) -> np.ndarray:
    """Sample indices of R-peaks in a single-lead ECG."""
    return detect_r_peaks_many(np.asarray(signal, dtype=np.float64).ravel()[None, :], fs)[0]


def detect_r_peaks_many(signals: np.ndarray, fs: float) -> list[np.ndarray]:
    """R-peaks of each row of ``signals`` (``(k, n)``, equal lengths): the filtering runs once for all
    rows, which is what lets an edge node keep up with many patients; each row's result is exactly
    what :func:`detect_r_peaks` gives for that row alone."""
    x = np.asarray(signals, dtype=np.float64)
    empty = np.zeros(0, dtype=np.int64)
    if x.shape[1] < int(fs):  # less than a second cannot hold a reliable beat
        return [empty for _ in range(x.shape[0])]
    filtered = bandpass(x, fs)
    slope = np.gradient(filtered, axis=-1) ** 2
    energy = uniform_filter1d(slope, size=max(1, int(0.12 * fs)), axis=-1)
    thresholds = 0.3 * np.percentile(energy, 98, axis=-1)
    half = max(1, int(0.08 * fs))
    distance = max(1, int(MIN_RR_S * fs))
    rows, cols = _energy_peaks(energy, thresholds, distance)
    peaks = _refine(filtered, rows, cols, half)
    n = x.shape[1]
    keys = np.unique(rows * n + peaks)  # per row: sorted and de-duplicated, as np.unique of the row
    bounds = np.searchsorted(keys, np.arange(x.shape[0] + 1) * n)
    return [keys[bounds[r] : bounds[r + 1]] - r * n for r in range(x.shape[0])]


def _energy_peaks(energy: np.ndarray, thresholds: np.ndarray, distance: int) -> tuple[np.ndarray, np.ndarray]:
    """``(row, column)`` of the ``find_peaks(energy[row], height=threshold, distance=distance)`` peaks of
    every row whose threshold is positive, from one ``find_peaks`` call over all rows.

    The rows are laid end to end with ``distance`` samples of the largest float between them: a row's
    first sample then never rises above its left neighbour and its last never above its right one
    (so, as for a row alone, neither can be a peak), the separators' own peak fails its infinite
    height, and peaks of different rows are more than ``distance`` apart so cannot suppress each other.
    """
    k, n = energy.shape
    stride = n + distance
    laid = np.full((k, stride), np.finfo(np.float64).max)
    laid[:, :n] = energy
    height = np.full((k, stride), np.inf)
    height[:, :n] = np.where(thresholds > 0, thresholds, np.inf)[:, None]
    flat, _ = find_peaks(laid.ravel(), height=height.ravel(), distance=distance)
    return flat // stride, flat % stride


def _refine(filtered: np.ndarray, rows: np.ndarray, cols: np.ndarray, half: int) -> np.ndarray:
    """Each candidate moved to the largest ``|filtered|`` within ``half`` samples (first of ties).

    Indices beyond a row's ends are clamped to its first/last sample: the repeats sit before/after
    the real samples in order, so the first maximum is the same sample as in the unclamped span.
    """
    n = filtered.shape[1]
    idx = np.clip(cols[:, None] + np.arange(-half, half + 1), 0, n - 1)
    best = np.argmax(np.abs(filtered[rows[:, None], idx]), axis=1)
    return np.asarray(idx[np.arange(idx.shape[0]), best], dtype=np.int64)


def heart_rate_bpm(signal: np.ndarray, fs: float) -> tuple[float, int] | None:
    """Median heart rate over the signal and the number of RR intervals it rests on.

    ``None`` when fewer than two plausible RR intervals are found (flat line, lead-off, noise).
    """
    return heart_rate_from_peaks(detect_r_peaks(signal, fs), fs)


def heart_rate_from_peaks(peaks: np.ndarray, fs: float) -> tuple[float, int] | None:
    """:func:`heart_rate_bpm` for R-peak indices already found (sampled at ``fs``)."""
    rr = np.diff(np.asarray(peaks)) / fs
    rr = rr[(rr >= MIN_RR_S) & (rr <= MAX_RR_S)]
    if rr.size < 2:
        return None
    return 60.0 / float(np.median(rr)), int(rr.size)
