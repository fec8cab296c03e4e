"""Emotion features computed for many windows at once are, to the bit, what training computes for each.

``reference_measures`` is the per-window measurement written plainly for one 1-D window (scipy's
``sosfiltfilt``, the single-row R-peak search); the edge computes a batch of devices' windows with
:func:`~models.preprocessing.emotion.window_measures_many` and each device's baseline in its row.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import find_peaks, sosfiltfilt

from firmware_sim.emotion import RATES, EmotionStream
from firmware_sim.persona import make_persona
from models.preprocessing import emotion
from models.preprocessing.ecg import detect_r_peaks
from models.preprocessing.filters import butter_sos
from models.preprocessing.resample import resample


def _reference_resample(x: np.ndarray, fs_in: float, fs_out: float) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64).ravel()
    if abs(fs_in - fs_out) < 1e-9:
        return x.copy()
    centre = np.median(x)
    return resample(x - centre, fs_in, fs_out) + centre


def _reference_highpass(x: np.ndarray, fs: float, cutoff: float, order: int = 1) -> np.ndarray:
    if x.size < 4 * int(fs / cutoff):
        return x - np.mean(x)
    return np.asarray(sosfiltfilt(butter_sos(order, cutoff, "highpass", fs), x))


def reference_measures(
    ecg: np.ndarray, ecg_fs: float, eda: np.ndarray, eda_fs: float, ppg: np.ndarray, ppg_fs: float
) -> emotion.Measures:
    e = _reference_resample(ecg, ecg_fs, emotion.ECG_FS)
    d = _reference_resample(eda, eda_fs, emotion.EDA_FS)
    p = _reference_resample(ppg, ppg_fs, emotion.PPG_FS)
    e = _reference_highpass(e, emotion.ECG_FS, 0.5, order=2)
    height = np.percentile(np.abs(e), emotion.ECG_HEIGHT_PERCENTILE)
    e = e * emotion.ECG_NOMINAL / height if height > 0 else np.zeros_like(e)
    hr, rmssd, sdnn = emotion._rr_steps(detect_r_peaks(e, emotion.ECG_FS) / emotion.ECG_FS)
    phasic = _reference_highpass(d, emotion.EDA_FS, 0.05)
    p_ac = _reference_highpass(p, emotion.PPG_FS, 0.5)
    level, slope, phasic_sd, amp, rate = (np.full(emotion.STEPS, np.nan) for _ in range(5))
    n_eda, n_ppg = int(emotion.STEP_S * emotion.EDA_FS), int(emotion.STEP_S * emotion.PPG_FS)
    t = np.arange(n_eda) / emotion.EDA_FS
    for k in range(emotion.STEPS):
        ds = d[k * n_eda : (k + 1) * n_eda]
        if ds.size == n_eda:
            level[k] = np.mean(ds)
            slope[k] = np.sum((ds - ds.mean()) * (t - t.mean())) / np.sum((t - t.mean()) ** 2)
            phasic_sd[k] = np.std(phasic[k * n_eda : (k + 1) * n_eda])
        ps = p_ac[k * n_ppg : (k + 1) * n_ppg]
        if ps.size == n_ppg:
            p95, p5 = np.percentile(ps, [95, 5])
            amp[k] = p95 - p5
            beats = find_peaks(ps, distance=int(0.3 * emotion.PPG_FS), prominence=0.3 * amp[k] + 1e-300)[0]
            if beats.size >= 2 and amp[k] > 0:
                rate[k] = 60.0 * emotion.PPG_FS / float(np.median(np.diff(beats)))
    p95, p5 = np.percentile(d, [95, 5])
    return emotion.Measures(hr, rmssd, sdnn, level, slope, phasic_sd, amp, rate, float(p95 - p5), phasic)


def _same(a: emotion.Measures, b: emotion.Measures) -> None:
    for name in emotion.Measures.__slots__:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


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
def test_measures_of_many_windows_are_the_per_window_measures(ecg_hz: float) -> None:
    windows = band_windows(8, ecg_hz=ecg_hz)
    windows[1]["ppg"][:] = 0.2  # a flat PPG
    windows[2]["eda"][100:] = windows[2]["eda"][100]  # EDA stuck
    windows[3]["ecg"][:] = 0.0  # lead off
    windows[4]["eda"][:] = 2.3  # flat EDA: the phasic part is rounding residue, which must round alike
    windows[5]["ppg"][:] = 0.7
    windows[5]["eda"][:] = 7.1
    windows[6]["ppg"] = windows[6]["ppg"] * 400.0 + 2048.0  # a PPG in ADC counts beside ones in a.u.
    fe, fd, fp = rates(ecg_hz)
    stack = [np.stack([w[s] for w in windows]) for s in ("ecg", "eda", "ppg")]
    many = emotion.window_measures_many(stack[0], fe, stack[1], fd, stack[2], fp)
    for m, w in zip(many, windows, strict=True):
        _same(m, reference_measures(w["ecg"], fe, w["eda"], fd, w["ppg"], fp))
    assert np.nanmean(many[0].hr) > 30.0  # heart rate read from the ECG


def test_features_of_a_batch_are_each_device_against_its_own_baseline() -> None:
    """A batch row updates its own device's baseline exactly as that device's windows alone would."""
    windows = band_windows(6)
    fe, fd, fp = rates(250.0)
    alone = [emotion.SubjectBaseline() for _ in windows]
    batched = [emotion.SubjectBaseline() for _ in windows]
    for repeat in range(3):  # three windows per device, so the baselines hold history
        expected = [emotion.window_features(w["ecg"], fe, w["eda"], fd, w["ppg"] * (1 + repeat), fp, base)
                    for w, base in zip(windows, alone, strict=True)]
        got = emotion.window_features_many(np.stack([w["ecg"] for w in windows]), fe,
                                           np.stack([w["eda"] for w in windows]), fd,
                                           np.stack([w["ppg"] * (1 + repeat) for w in windows]), fp, batched)
        assert got.shape == (6, emotion.STEPS, emotion.FEATURES) and got.dtype == np.float32
        for row, exp in zip(got, expected, strict=True):
            np.testing.assert_array_equal(row, exp)
    with pytest.raises(ValueError, match="6 windows but 2 baselines"):
        emotion.window_features_many(np.stack([w["ecg"] for w in windows]), fe, np.stack([w["eda"] for w in windows]),
                                     fd, np.stack([w["ppg"] for w in windows]), fp, batched[:2])


@pytest.mark.parametrize("seconds", [59.5, 30.0, 3.0])
def test_short_or_partial_windows_measure_what_they_hold(seconds: float) -> None:
    """Recordings cut by the training code can end mid-step: missing steps are nan, then 0 as features."""
    for w in band_windows(2, seconds=seconds):
        fe, fd, fp = rates(250.0)
        [m] = emotion.window_measures_many(w["ecg"][None], fe, w["eda"][None], fd, w["ppg"][None], fp)
        steps = int(seconds // emotion.STEP_S)
        assert np.isnan(m.eda_level[steps:]).all() and np.isfinite(m.eda_level[:steps]).all()
        f = emotion.window_features(w["ecg"], fe, w["eda"], fd, w["ppg"], fp)
        assert np.isfinite(f).all() and not f[steps:, 5:10].any()


def test_emotion_windows_of_a_recording_carry_one_baseline_through_them() -> None:
    stream = EmotionStream(make_persona(6, 1), np.random.default_rng(9), cycle_s=200.0)
    rec = {k: v[:, 0] for k, v in stream.render(150.0).items()}
    fs = {"ecg": 250.0, "eda": RATES["eda"], "ppg": RATES["ppg"]}
    wins, starts = emotion.emotion_windows(rec, fs)
    assert len(starts) == len(wins) > 3
    base = emotion.SubjectBaseline()
    for t0, win in zip(starts, wins, strict=True):
        cut = {s: rec[s][int(t0 * fs[s]) : int(t0 * fs[s]) + int(emotion.WINDOW_S * fs[s])] for s in fs}
        np.testing.assert_array_equal(
            win, emotion.window_features(cut["ecg"], fs["ecg"], cut["eda"], fs["eda"], cut["ppg"], fs["ppg"], base))


def test_flat_stretches_round_alike_in_a_batch() -> None:
    """A sensor stuck for the last steps leaves rounding residue as the phasic EDA; each row of a
    batch must reduce exactly as it does alone (row-major, pairwise), or that residue differs."""
    rng = np.random.default_rng(17)
    k, fe, fd, fp = 24, *rates(250.0)
    ecg = np.tile(band_windows(1)[0]["ecg"], (k, 1))
    ppg = rng.normal(0.0, 1.0, (k, int(emotion.WINDOW_S * fp)))
    eda = rng.uniform(2.0, 9.0, (k, 1)) + rng.normal(0.0, 0.05, (k, int(emotion.WINDOW_S * fd)))
    for i in range(k):
        eda[i, rng.integers(40, 200) :] = 0.0 if i % 2 else rng.uniform(0.0, 9.0)  # a flat-line fault reads 0
    many = emotion.window_measures_many(ecg, fe, eda.astype(np.float32), fd, ppg, fp)
    for i in range(k):
        _same(many[i], reference_measures(ecg[i], fe, eda[i].astype(np.float32), fd, ppg[i], fp))
