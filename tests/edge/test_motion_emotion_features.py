"""Emotion features computed for many windows at once are, to the bit, what training computes for each.

``reference_window_features`` is the per-window feature code as it was before the batched variant
(training imports ``window_features``, which now runs through the batched code with one row).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import butter, find_peaks, sosfiltfilt

from firmware_sim.emotion import RATES, EmotionStream
from firmware_sim.persona import make_persona
from models.preprocessing import emotion
from models.preprocessing.ecg import detect_r_peaks
from models.preprocessing.resample import resample


def _reference_highpass(x: np.ndarray, fs: float, cutoff: float) -> np.ndarray:
    if x.size < 4 * int(fs / cutoff):
        return x - np.mean(x)
    sos = butter(1, cutoff, btype="highpass", fs=fs, output="sos")
    return np.asarray(sosfiltfilt(sos, x))


def reference_window_features(
    ecg: np.ndarray, ecg_fs: float, eda: np.ndarray, eda_fs: float, ppg: np.ndarray, ppg_fs: float
) -> np.ndarray:
    e = resample(np.asarray(ecg, dtype=np.float64).ravel(), ecg_fs, emotion.ECG_FS)
    d = resample(np.asarray(eda, dtype=np.float64).ravel(), eda_fs, emotion.EDA_FS)
    p = resample(np.asarray(ppg, dtype=np.float64).ravel(), ppg_fs, emotion.PPG_FS)
    r_peaks = detect_r_peaks(e, emotion.ECG_FS) / emotion.ECG_FS
    phasic = _reference_highpass(d, emotion.EDA_FS, 0.05)
    p_ac = _reference_highpass(p, emotion.PPG_FS, 0.5)
    out = np.zeros((emotion.STEPS, emotion.FEATURES), dtype=np.float64)
    step_s, eda_fs_, ppg_fs_ = emotion.STEP_S, emotion.EDA_FS, emotion.PPG_FS
    for k in range(emotion.STEPS):
        lo, hi = k * step_s, (k + 1) * step_s
        out[k, 0:3] = emotion._rr_step_features(r_peaks, lo - step_s / 2, hi + step_s / 2)
        ds = d[int(lo * eda_fs_) : int(hi * eda_fs_)]
        ph = phasic[int(lo * eda_fs_) : int(hi * eda_fs_)]
        if ds.size >= 2:
            out[k, 3] = float(np.mean(ds)) / 10.0
            out[k, 4] = float(np.polyfit(np.arange(ds.size) / eda_fs_, ds, 1)[0]) * 10.0
            out[k, 5] = float(np.std(ph))
            out[k, 6] = len(find_peaks(ph, prominence=0.03)[0]) / 3.0
        ps = p_ac[int(lo * ppg_fs_) : int(hi * ppg_fs_)]
        if ps.size >= int(ppg_fs_):
            out[k, 7] = float(np.percentile(ps, 95) - np.percentile(ps, 5))
            beats = find_peaks(ps, distance=int(0.3 * ppg_fs_), prominence=0.3 * out[k, 7] + 1e-9)[0]
            if beats.size >= 2:
                out[k, 8] = 60.0 * ppg_fs_ / float(np.mean(np.diff(beats))) / 100.0
    return np.clip(out, -emotion.CLIP, emotion.CLIP).astype(np.float32)


def band_windows(count: int, seconds: float = emotion.WINDOW_S, ecg_hz: float = 250.0) -> list[dict[str, np.ndarray]]:
    """Minute-long windows of simulated emotion bands (baseline, stress and amusement mixed)."""
    out = []
    for i in range(count):
        stream = EmotionStream(make_persona(5, i), np.random.default_rng(i), cycle_s=120.0, ecg_hz=ecg_hz)
        if i % 4:
            stream.render(float(i % 4) * 25.0)  # windows from different phases of the protocol
        out.append({k: v[:, 0] for k, v in stream.render(seconds).items()})
    return out


def rates(ecg_hz: float) -> tuple[float, float, float]:
    return ecg_hz, RATES["eda"], RATES["ppg"]


@pytest.mark.parametrize("ecg_hz", [250.0, 360.0])
def test_features_of_many_windows_are_the_per_window_features(ecg_hz: float) -> None:
    windows = band_windows(8, ecg_hz=ecg_hz)
    windows[1]["ppg"][:] = 0.2  # a flat PPG
    windows[2]["eda"][100:] = windows[2]["eda"][100]  # EDA stuck
    windows[3]["ecg"][:] = 0.0  # lead off
    windows[4]["eda"][:] = 2.3  # flat EDA: the phasic part is rounding residue, which must round alike
    windows[5]["ppg"][:] = 0.7
    windows[5]["eda"][:] = 7.1
    fe, fd, fp = rates(ecg_hz)
    many = emotion.window_features_many(
        np.stack([w["ecg"] for w in windows]), fe, np.stack([w["eda"] for w in windows]), fd,
        np.stack([w["ppg"] for w in windows]), fp,
    )
    assert many.shape == (8, emotion.STEPS, emotion.FEATURES) and many.dtype == np.float32
    for row, w in zip(many, windows, strict=True):
        expected = reference_window_features(w["ecg"], fe, w["eda"], fd, w["ppg"], fp)
        assert np.array_equal(row, expected)
        assert np.array_equal(emotion.window_features(w["ecg"], fe, w["eda"], fd, w["ppg"], fp), expected)
    assert np.any(many[0] != 0.0) and np.any(many[0, :, 0] > 0.3)  # heart rate read from the ECG


@pytest.mark.parametrize("seconds", [59.5, 30.0, 3.0, 0.5])
def test_training_features_of_short_or_partial_windows_are_unchanged(seconds: float) -> None:
    """Recordings cut by the training code can end mid-step: the per-step fallback runs then."""
    for w in band_windows(2, seconds=seconds):
        fe, fd, fp = rates(250.0)
        assert np.array_equal(emotion.window_features(w["ecg"], fe, w["eda"], fd, w["ppg"], fp),
                              reference_window_features(w["ecg"], fe, w["eda"], fd, w["ppg"], fp))


def test_emotion_windows_of_a_recording_are_unchanged() -> None:
    stream = EmotionStream(make_persona(6, 1), np.random.default_rng(9), cycle_s=200.0)
    rec = {k: v[:, 0] for k, v in stream.render(150.0).items()}
    fs = {"ecg": 250.0, "eda": RATES["eda"], "ppg": RATES["ppg"]}
    wins, starts = emotion.emotion_windows(rec, fs)
    assert len(starts) == len(wins) > 3
    for t0, win in zip(starts, wins, strict=True):
        cut = {s: rec[s][int(t0 * fs[s]) : int((t0 + emotion.WINDOW_S) * fs[s])] for s in fs}
        assert np.array_equal(win, reference_window_features(cut["ecg"], fs["ecg"], cut["eda"], fs["eda"],
                                                             cut["ppg"], fs["ppg"]))


def test_flat_stretches_round_alike_in_a_batch() -> None:
    """A sensor stuck for the last steps leaves rounding residue as the phasic EDA; each row of a
    batch must reduce exactly as it does alone (row-major, pairwise), or that residue differs."""
    rng = np.random.default_rng(17)
    k, fe, fd, fp = 48, *rates(250.0)
    ecg = np.tile(band_windows(1)[0]["ecg"], (k, 1))
    ppg = rng.normal(0.0, 1.0, (k, int(emotion.WINDOW_S * fp)))
    eda = rng.uniform(2.0, 9.0, (k, 1)) + rng.normal(0.0, 0.05, (k, int(emotion.WINDOW_S * fd)))
    for i in range(k):
        eda[i, rng.integers(40, 200) :] = 0.0 if i % 2 else rng.uniform(0.0, 9.0)  # a flat-line fault reads 0
    many = emotion.window_features_many(ecg, fe, eda.astype(np.float32), fd, ppg, fp)
    for i in range(k):
        assert np.array_equal(many[i], reference_window_features(ecg[i], fe, eda[i].astype(np.float32), fd, ppg[i], fp))
