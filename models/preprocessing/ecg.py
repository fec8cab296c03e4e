"""ECG conditioning, R-peak detection and heart rate.

R-peaks: band-pass (Butterworth, zero phase), then the local, amplitude-proportional QRS search of
:mod:`models.preprocessing.qrs` (which sees wide and ectopic beats next to narrow ones of any size),
each peak snapped to the largest band-passed deflection nearby.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from itertools import pairwise

import numpy as np
from scipy.signal import sosfilt, sosfilt_zi, sosfiltfilt

from models.preprocessing.filters import butter_sos
from models.preprocessing.qrs import REFRACTORY_S, qrs_candidates

try:  # the loop inside scipy's sosfilt, without its per-call axis shuffling and copies
    from scipy.signal._sosfilt import _sosfilt
except ImportError:  # pragma: no cover
    _sosfilt = None

#: Physiological limits used to reject implausible RR intervals (30..220 bpm).
MIN_RR_S = 60.0 / 220.0
MAX_RR_S = 60.0 / 30.0


def bandpass(signal: np.ndarray, fs: float, low_hz: float = 5.0, high_hz: float = 20.0) -> np.ndarray:
    """Zero-phase Butterworth band-pass (2nd order each side) along the last axis."""
    return zero_phase(np.asarray(signal, dtype=np.float64), 2, (low_hz, min(high_hz, 0.45 * fs)), "bandpass", fs)


def zero_phase(x: np.ndarray, order: int, cutoff: float | tuple[float, float], btype: str, fs: float) -> np.ndarray:
    """``sosfiltfilt(butter_sos(order, cutoff, btype, fs), x, axis=-1)``, value for value, for float64 ``x``.

    scipy solves the filter's steady-state initial conditions on every call, and shuffles axes and
    copies around its filter loop, which together cost more than filtering seconds of a dozen
    signals; here the initial conditions are solved once per design and the loop runs in place.
    The steps are sosfiltfilt's own (odd extension by ``3 * ntaps``, forward pass from ``zi * x[0]``,
    backward pass from ``zi * y[-1]``), so the output is identical (a unit test holds it to sosfiltfilt).
    """
    sos, zi, edge = _zero_phase_design(order, cutoff, btype, fs)
    if x.ndim != 2 or x.shape[-1] <= edge:
        return np.asarray(sosfiltfilt(sos, x, axis=-1))
    n = x.shape[1]
    y = np.empty((x.shape[0], n + 2 * edge))
    y[:, edge : edge + n] = x
    y[:, :edge] = 2 * x[:, :1] - x[:, edge:0:-1]
    y[:, edge + n :] = 2 * x[:, -1:] - x[:, -2 : -(edge + 2) : -1]
    _filter_in_place(sos, y, zi * y[:, :1, None])
    y = np.ascontiguousarray(y[:, ::-1])
    _filter_in_place(sos, y, zi * y[:, :1, None])
    return y[:, ::-1][:, edge : edge + n]


def _filter_in_place(sos: np.ndarray, x: np.ndarray, zi: np.ndarray) -> None:
    """``sosfilt`` of the C-ordered rows of ``x`` in place, from states ``zi`` (rows, sections, 2)."""
    if _sosfilt is not None:
        _sosfilt(sos, x, zi)
    else:  # pragma: no cover - a scipy without the private loop
        x[...] = sosfilt(sos, x, axis=-1, zi=np.moveaxis(zi, 1, 0))[0]


@lru_cache(maxsize=32)
def _zero_phase_design(
    order: int, cutoff: float | tuple[float, float], btype: str, fs: float
) -> tuple[np.ndarray, np.ndarray, int]:
    """``(sos, initial state per unit input (1, sections, 2), padding)`` as sosfiltfilt derives them."""
    sos = butter_sos(order, cutoff, btype, fs)
    ntaps = 2 * sos.shape[0] + 1 - min(int((sos[:, 2] == 0).sum()), int((sos[:, 5] == 0).sum()))
    return sos, sosfilt_zi(sos)[None, :, :], 3 * ntaps


def detect_r_peaks(signal: np.ndarray, fs: float) -> np.ndarray:
    """Sample indices of R-peaks in a single-lead ECG."""
    return detect_r_peaks_many(np.asarray(signal, dtype=np.float64).ravel()[None, :], fs)[0]


def detect_r_peaks_many(signals: np.ndarray, fs: float) -> list[np.ndarray]:
    """R-peaks of each row of ``signals`` (``(k, n)``, conditioned ECG in mV, equal lengths): the filtering
    runs once for all rows, which is what lets an edge node keep up with many patients; each row's
    result is exactly what :func:`detect_r_peaks` gives for that row alone. The search itself is
    :mod:`models.preprocessing.qrs`."""
    x = np.asarray(signals, dtype=np.float64)
    empty = np.zeros(0, dtype=np.int64)
    if x.shape[1] < int(fs):  # less than a second cannot hold a reliable beat
        return [empty for _ in range(x.shape[0])]
    filtered = bandpass(x, fs)
    rows, cols = qrs_candidates(x, filtered, fs, max(1, int(REFRACTORY_S * fs)))
    peaks = _refine(filtered, rows, cols, max(1, int(0.08 * fs)))
    n = x.shape[1]
    keys = np.unique(rows * n + peaks)  # per row: sorted and de-duplicated, as np.unique of the row
    bounds = np.searchsorted(keys, np.arange(x.shape[0] + 1) * n)
    return [keys[bounds[r] : bounds[r + 1]] - r * n for r in range(x.shape[0])]


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


def heart_rate_from_peaks(peaks: np.ndarray | Sequence[int], fs: float) -> tuple[float, int] | None:
    """:func:`heart_rate_bpm` for R-peak indices already found (sampled at ``fs``).

    Plain Python: an edge node asks this of a dozen peaks per patient every few seconds, where numpy's
    per-call cost is most of the work. The RR values, and their median, are the same floats numpy's
    ``np.median(np.diff(peaks) / fs)`` gives (a sorted middle, or the mean of the two middle values).
    """
    ints = [int(p) for p in peaks]
    rr = sorted(rr for rr in ((b - a) / fs for a, b in pairwise(ints)) if MIN_RR_S <= rr <= MAX_RR_S)
    if len(rr) < 2:
        return None
    half = len(rr) // 2
    median = rr[half] if len(rr) % 2 else (rr[half - 1] + rr[half]) / 2
    return 60.0 / median, len(rr)
