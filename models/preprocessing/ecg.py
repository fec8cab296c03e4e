"""ECG conditioning, R-peak detection and heart rate.

R-peaks follow the Pan-Tompkins idea with scipy building blocks: band-pass (Butterworth, zero
phase), squared slope, moving-window integration, then ``scipy.signal.find_peaks`` with a
refractory distance, each peak snapped to the largest band-passed deflection nearby.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import uniform_filter1d
from scipy.signal import butter, find_peaks, sosfiltfilt

#: Physiological limits used to reject implausible RR intervals (30..220 bpm).
MIN_RR_S = 60.0 / 220.0
MAX_RR_S = 60.0 / 30.0


def bandpass(signal: np.ndarray, fs: float, low_hz: float = 5.0, high_hz: float = 20.0) -> np.ndarray:
    """Zero-phase Butterworth band-pass (2nd order each side)."""
    high = min(high_hz, 0.45 * fs)
    sos = butter(2, [low_hz, high], btype="bandpass", fs=fs, output="sos")
    return np.asarray(sosfiltfilt(sos, np.asarray(signal, dtype=np.float64)))


def detect_r_peaks(signal: np.ndarray, fs: float) -> np.ndarray:
    """Sample indices of R-peaks in a single-lead ECG."""
    x = np.asarray(signal, dtype=np.float64).ravel()
    if x.size < int(fs):  # less than a second cannot hold a reliable beat
        return np.zeros(0, dtype=np.int64)
    filtered = bandpass(x, fs)
    slope = np.gradient(filtered) ** 2
    energy = uniform_filter1d(slope, size=max(1, int(0.12 * fs)))
    threshold = 0.3 * float(np.percentile(energy, 98))
    if threshold <= 0:
        return np.zeros(0, dtype=np.int64)
    candidates, _ = find_peaks(energy, height=threshold, distance=max(1, int(MIN_RR_S * fs)))
    half = max(1, int(0.08 * fs))
    peaks = []
    for c in candidates:
        lo, hi = max(0, c - half), min(x.size, c + half + 1)
        peaks.append(lo + int(np.argmax(np.abs(filtered[lo:hi]))))
    return np.unique(np.asarray(peaks, dtype=np.int64))


def heart_rate_bpm(signal: np.ndarray, fs: float) -> tuple[float, int] | None:
    """Median heart rate over the signal and the number of RR intervals it rests on.

    ``None`` when fewer than two plausible RR intervals are found (flat line, lead-off, noise).
    """
    peaks = detect_r_peaks(signal, fs)
    if peaks.size < 3:
        return None
    rr = np.diff(peaks) / fs
    rr = rr[(rr >= MIN_RR_S) & (rr <= MAX_RR_S)]
    if rr.size < 2:
        return None
    return 60.0 / float(np.median(rr)), int(rr.size)
