"""ECG-model input: one vector per beat, a beat-centred waveform followed by its RR context.

The edge runs exactly this: resample to :data:`ECG_RATE_HZ`, remove baseline wander, find R-peaks
with :func:`models.preprocessing.ecg.detect_r_peaks`, then for every beat that has a neighbour on
each side take :data:`BEFORE` samples before and :data:`AFTER` after the R-peak (baseline-subtracted,
in mV) and append five rhythm features. Morphology alone cannot tell a premature supraventricular
beat (S) from a normal one; the RR intervals can.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import sosfiltfilt

from models.preprocessing.ecg import detect_r_peaks
from models.preprocessing.filters import butter_sos
from models.preprocessing.resample import resample

ECG_RATE_HZ = 250.0
BEFORE = 60  # 0.24 s
AFTER = 100  # 0.40 s
WAVE = BEFORE + AFTER
#: pre-RR, post-RR and local mean RR (s), then pre-RR and post-RR over the local mean.
RR_FEATURES = 5
VECTOR = WAVE + RR_FEATURES
#: How many preceding RR intervals make the local rhythm.
LOCAL_BEATS = 8
CLIP_MV = 6.0


def condition(ecg: np.ndarray, fs: float) -> np.ndarray:
    """Resample to :data:`ECG_RATE_HZ` and band-limit to 0.5..40 Hz (zero phase)."""
    return condition_many(np.asarray(ecg, dtype=np.float64).ravel()[None, :], fs)[0]


def condition_many(ecgs: np.ndarray, fs: float) -> np.ndarray:
    """:func:`condition` of every row of ``ecgs`` (``(k, n)``) in one pass; row results are identical."""
    x = resample(np.asarray(ecgs, dtype=np.float64).T, fs, ECG_RATE_HZ).T
    if x.shape[1] < 3 * int(ECG_RATE_HZ):
        return np.ascontiguousarray(x)
    return np.asarray(sosfiltfilt(butter_sos(2, (0.5, 40.0), "bandpass", ECG_RATE_HZ), x, axis=-1))


def beat_vectors_from_peaks(
    x: np.ndarray, peaks: np.ndarray, after: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Beat vectors for R-peak indices ``peaks`` of a conditioned signal ``x`` at :data:`ECG_RATE_HZ`.

    Returns ``(kept peak indices, vectors (k, VECTOR) float32)``: the first and last peak (no RR on
    one side) and peaks too close to either end of the signal are skipped, and so are peaks at or
    before index ``after`` (a stream that already classified them); every other peak's vector is
    the same with or without ``after``.
    """
    peaks = np.asarray(peaks, dtype=np.int64)
    empty = np.zeros(0, dtype=np.int64), np.zeros((0, VECTOR), dtype=np.float32)
    if peaks.size < 3:
        return empty
    rr = np.diff(peaks) / ECG_RATE_HZ
    i = np.arange(1, peaks.size - 1)
    p = peaks[i]
    ok = (p - BEFORE >= 0) & (p + AFTER <= x.size)
    if after is not None:
        ok &= p > after
    i, p = i[ok], p[ok]
    if not p.size:
        return empty
    waves = np.asarray(x)[p[:, None] + np.arange(-BEFORE, AFTER)]
    waves = np.clip(waves - np.median(waves, axis=1)[:, None], -CLIP_MV, CLIP_MV)
    pre, post = rr[i - 1], rr[i]
    local = _local_rr(rr, i)
    feats = np.stack([pre, post, local, pre / local, post / local], axis=1)
    return p, np.concatenate([waves, np.clip(feats, 0.0, 4.0)], axis=1).astype(np.float32)


def _local_rr(rr: np.ndarray, i: np.ndarray) -> np.ndarray:
    """Mean of the (up to) :data:`LOCAL_BEATS` RR intervals before beat ``i`` (``rr[max(0, i - 8):i]``).

    Beats with a full history share one ``np.mean`` over a sliding view; its row sums are the same
    floats as ``np.mean`` of each slice alone (the unit tests hold it to the per-beat loop).
    """
    local = np.empty(i.size)
    full = i >= LOCAL_BEATS
    if full.any():
        local[full] = np.mean(np.lib.stride_tricks.sliding_window_view(rr, LOCAL_BEATS)[i[full] - LOCAL_BEATS], axis=1)
    for k in np.flatnonzero(~full):
        local[k] = float(np.mean(rr[: i[k]]))
    return local


def beat_vectors(ecg: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """``(R-peak times in s, beat vectors (k, VECTOR))`` of a single-lead ECG sampled at ``fs``."""
    x = condition(ecg, fs)
    peaks = detect_r_peaks(x, ECG_RATE_HZ)
    kept, vectors = beat_vectors_from_peaks(x, peaks)
    return kept / ECG_RATE_HZ, vectors
