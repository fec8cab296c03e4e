"""The batched preprocessing the edge uses gives exactly what the per-signal code gives."""

from __future__ import annotations

import numpy as np
import pytest

from firmware_sim.ecg import EcgSynth
from models.preprocessing.beats import condition, condition_many
from models.preprocessing.ecg import detect_r_peaks, detect_r_peaks_many


@pytest.mark.parametrize("fs", [250.0, 360.0, 500.0])
def test_batched_conditioning_and_r_peaks_equal_the_single_signal_code(fs: float) -> None:
    rows = np.stack([EcgSynth(fs, 55 + 15 * i, np.random.default_rng(i)).render(int(fs * 10)) for i in range(4)])
    rows[2] *= 0.0  # a flat row must not disturb its neighbours
    batched = condition_many(rows, fs)
    peaks = detect_r_peaks_many(batched, 250.0)
    for i, row in enumerate(rows):
        single = condition(row, fs)
        np.testing.assert_array_equal(batched[i], single)
        np.testing.assert_array_equal(peaks[i], detect_r_peaks(single, 250.0))
    assert peaks[2].size == 0 and all(peaks[i].size >= 8 for i in (0, 1, 3))


def test_skipping_classified_beats_leaves_the_other_vectors_unchanged() -> None:
    from models.preprocessing.beats import beat_vectors_from_peaks

    x = condition(EcgSynth(250.0, 70.0, np.random.default_rng(0)).render(2500), 250.0)
    peaks = detect_r_peaks(x, 250.0)
    kept, vectors = beat_vectors_from_peaks(x, peaks)
    later, later_vectors = beat_vectors_from_peaks(x, peaks, after=int(peaks[5]))
    assert 0 < later.size < kept.size
    np.testing.assert_array_equal(later, kept[kept > peaks[5]])
    np.testing.assert_array_equal(later_vectors, vectors[kept > peaks[5]])


def _reference_r_peaks(x: np.ndarray, fs: float) -> np.ndarray:
    """The QRS search of :mod:`models.preprocessing.qrs` written plainly: one signal, one region and
    one candidate at a time."""
    from scipy.ndimage import maximum_filter1d, uniform_filter1d
    from scipy.signal import find_peaks

    from models.preprocessing import qrs
    from models.preprocessing.ecg import bandpass

    if x.size < int(fs):
        return np.zeros(0, dtype=np.int64)
    band = bandpass(x, fs)
    g = uniform_filter1d(np.abs(np.gradient(band)), max(1, round(qrs.SMOOTH_S * fs)))
    top = maximum_filter1d(g, max(1, round(qrs.MAX_WINDOW_S * fs)))
    inside = ((g > qrs.REGION_FACTOR * uniform_filter1d(g, max(1, round(qrs.AVERAGE_S * fs))))
              | (g > qrs.NEAR_MAX * top)) & (g > qrs.FLOOR_OF_MAX * top)
    found: list[int] = []
    i = 0
    while i < x.size:
        j = i
        while j < x.size and inside[j]:
            j += 1
        if j - i >= max(1, round(qrs.MIN_REGION_S * fs)):
            found.append(i + int(np.argmax(g[i:j])))
        i = max(j, i + 1)
    sparse = np.zeros(x.size + 2)
    sparse[np.asarray(found, dtype=np.int64) + 1] = g[found]
    cands = find_peaks(sparse, height=np.finfo(np.float64).tiny, distance=max(1, int(qrs.REFRACTORY_S * fs)))[0] - 1

    def window(a: np.ndarray, c: int, half_s: float) -> np.ndarray:
        half = round(half_s * fs)
        return a[np.clip(np.arange(c - half, c + half + 1), 0, x.size - 1)]

    low = x - band
    hf = [np.sqrt(np.mean(window(band, c, qrs.HF_HALF_S) ** 2)) for c in cands]
    lf = [np.sqrt(np.mean(window(low, c, qrs.LF_HALF_S) ** 2)) for c in cands]
    smooth = [h < qrs.SMOOTH_RATIO * w for h, w in zip(hf, lf, strict=True)]
    amp = [float(np.ptp(window(x, c, qrs.AMP_HALF_S))) for c in cands]
    sharp = [(int(c), a) for c, a, s in zip(cands, amp, smooth, strict=True) if not s and a >= qrs.MIN_AMP_MV]
    beats = []
    for i, c in enumerate(cands):
        drop = amp[i] < qrs.MIN_AMP_MV
        before = [s for s in sharp if s[0] < c]
        after = [s for s in sharp if s[0] > c]
        t_like = i > 0 and c - cands[i - 1] < qrs.T_WINDOW_S * fs and g[c] < qrs.T_SLOPE_RATIO * g[cands[i - 1]]
        if smooth[i] and t_like:
            early = len(before) >= 2 and c - before[-1][0] < qrs.T_EARLY * (before[-1][0] - before[-2][0])
            drop |= amp[i] < qrs.T_AMP_RATIO * amp[i - 1] or early
        if len(before) >= 2 and hf[i] < qrs.NEAR_SMOOTH_RATIO * lf[i]:  # a wave in the ST segment
            behind = c - before[-1][0]
            drop |= behind < qrs.ST_T_EARLY * (before[-1][0] - before[-2][0]) and behind < qrs.ST_T_S * fs
        neighbours = [a for _, a in before[-1:] + after[:1]]
        if smooth[i]:
            drop |= bool(neighbours) and amp[i] * len(neighbours) < qrs.BUMP_RATIO * sum(neighbours)
        else:
            drop |= bool(before) and amp[i] < qrs.SHARP_BUMP_RATIO * before[-1][1]
            premature = len(before) >= 2 and c - before[-1][0] < qrs.EARLY_SPIKE * (before[-1][0] - before[-2][0])
            drop |= premature and amp[i] < qrs.EARLY_SPIKE_RATIO * before[-1][1]
            if len(before) >= 2:  # minor deflections: against the sharp beat before if early, both before at any time
                (c1, a1), (c2, a2) = before[-1], before[-2]
                small = amp[i] < qrs.MINOR_RATIO * a1 and g[c] < qrs.MINOR_RATIO * g[c1]
                drop |= small and c - c1 < qrs.MINOR_EARLY * (c1 - c2)
                drop |= amp[i] < qrs.MINOR_RATIO * min(a1, a2) and g[c] < qrs.MINOR_RATIO * min(g[c1], g[c2])
        if not drop:
            half = max(1, int(0.08 * fs))
            lo = max(0, c - half)
            beats.append(lo + int(np.argmax(np.abs(band[lo : c + half + 1]))))
    return np.unique(np.asarray(beats, dtype=np.int64))


def _reference_vectors(x: np.ndarray, peaks: np.ndarray, after: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Beat vectors as they were written first: one beat at a time."""
    from models.preprocessing.beats import AFTER, BEFORE, CLIP_MV, LOCAL_BEATS, VECTOR

    rr = np.diff(peaks) / 250.0
    kept, rows = [], []
    for i in range(1, peaks.size - 1):
        p = int(peaks[i])
        if p - BEFORE < 0 or p + AFTER > x.size or (after is not None and p <= after):
            continue
        wave = x[p - BEFORE : p + AFTER]
        wave = np.clip(wave - np.median(wave), -CLIP_MV, CLIP_MV)
        pre, post = rr[i - 1], rr[i]
        local = float(np.mean(rr[max(0, i - LOCAL_BEATS) : i]))
        feats = np.array([pre, post, local, pre / local, post / local])
        rows.append(np.concatenate([wave, np.clip(feats, 0.0, 4.0)]))
        kept.append(p)
    if not rows:
        return np.zeros(0, dtype=np.int64), np.zeros((0, VECTOR), dtype=np.float32)
    return np.asarray(kept, dtype=np.int64), np.stack(rows).astype(np.float32)


@pytest.mark.parametrize("condition", ["normal", "pac", "pvc", "af_paroxysmal", "vt_prone", "paced"])
def test_vectorised_detection_and_beat_vectors_equal_the_per_beat_loops(condition: str) -> None:
    """The training path (whole record, one row) is bit-for-bit what the per-beat loops gave, and so is
    every row of a batch, including a flat one and rows cut anywhere in the rhythm."""
    from firmware_sim.ecg import EcgStream
    from firmware_sim.persona import make_persona
    from models.preprocessing.beats import beat_vectors_from_peaks

    stream = EcgStream(make_persona(7, 0, condition=condition), 250.0, np.random.default_rng(7))
    x = condition_many(stream.render(250 * 90)[None, :], 250.0)[0]
    peaks = detect_r_peaks(x, 250.0)
    np.testing.assert_array_equal(peaks, _reference_r_peaks(x, 250.0))
    assert peaks.size > 60
    for shift, after in [(0, None), (0, int(peaks[20])), (-700, 3)]:  # negative peaks: RR only
        kept, vectors = beat_vectors_from_peaks(x, peaks + shift, after)
        ref_kept, ref_vectors = _reference_vectors(x, peaks + shift, after)
        np.testing.assert_array_equal(kept, ref_kept)
        np.testing.assert_array_equal(vectors, ref_vectors)
        assert vectors.dtype == ref_vectors.dtype
    rows = np.stack([x[i * 777 : i * 777 + 2500] for i in range(12)])
    rows[4] = 0.0
    for row, batched in zip(rows, detect_r_peaks_many(rows, 250.0), strict=True):
        np.testing.assert_array_equal(batched, _reference_r_peaks(row, 250.0))


@pytest.mark.parametrize("n", [16, 300, 875, 2500])
def test_zero_phase_is_sosfiltfilt(n: int) -> None:
    from scipy.signal import sosfiltfilt

    from models.preprocessing.ecg import zero_phase
    from models.preprocessing.filters import butter_sos

    x = np.random.default_rng(n).standard_normal((5, n)).cumsum(axis=1)
    for design in [(2, (0.5, 40.0), "bandpass", 250.0), (2, (5.0, 20.0), "bandpass", 250.0)]:
        np.testing.assert_array_equal(zero_phase(x, *design), sosfiltfilt(butter_sos(*design), x, axis=-1))


def test_heart_rate_from_peaks_is_numpys_median_of_the_plausible_rr() -> None:
    from models.preprocessing.ecg import MAX_RR_S, MIN_RR_S, heart_rate_from_peaks

    rng = np.random.default_rng(0)
    for trial in range(3000):
        fs = (250.0, 360.0, 128.0)[trial % 3]
        peaks = np.cumsum(rng.integers(1, 700, size=int(rng.integers(0, 15))))
        rr = np.diff(peaks) / fs
        rr = rr[(rr >= MIN_RR_S) & (rr <= MAX_RR_S)]
        expected = None if rr.size < 2 else (60.0 / float(np.median(rr)), int(rr.size))
        assert heart_rate_from_peaks(peaks, fs) == expected
        assert heart_rate_from_peaks(peaks.tolist(), fs) == expected
