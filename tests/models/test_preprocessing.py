"""The numpy/scipy preprocessing the edge and the training share: shapes, units and invariants."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_sim.ecg import EcgSynth
from models.preprocessing import beats, emotion, motion
from models.preprocessing.resample import resample, sliding_windows


def test_resample_same_rate_is_a_copy_and_other_rates_scale_length():
    x = np.arange(100, dtype=np.float64)
    same = resample(x, 50.0, 50.0)
    assert np.array_equal(same, x) and same is not x
    assert resample(np.zeros((200, 3)), 100.0, 50.0).shape == (100, 3)
    assert resample(np.zeros(250), 250.0, 360.0).shape == (360,)


@settings(max_examples=50, deadline=None)
@given(n=st.integers(0, 300), window=st.integers(1, 50), hop=st.integers(1, 20))
def test_sliding_windows_are_the_rows_they_claim(n, window, hop):
    x = np.arange(n * 2).reshape(n, 2)
    wins, starts = sliding_windows(x, window, hop)
    assert len(wins) == len(starts) == (0 if n < window else (n - window) // hop + 1)
    for w, s in zip(wins, starts, strict=True):
        assert np.array_equal(w, x[s : s + window])


def test_motion_windows_stack_acc_and_scaled_gyro_at_model_rate():
    n = 100 * 10  # 10 s at 100 Hz
    acc = np.tile([0.0, 0.0, 1.0], (n, 1))
    gyro = np.tile([100.0, 0.0, -50.0], (n, 1))
    wins, starts = motion.motion_windows(acc, 100.0, gyro, 100.0)
    assert wins.shape[1:] == (motion.WINDOW, motion.CHANNELS) and wins.dtype == np.float32
    assert np.allclose(starts[:3], [0.0, motion.HOP_S, 2 * motion.HOP_S])
    mid = wins[len(wins) // 2]
    assert np.allclose(mid[:, 2], 1.0, atol=1e-3) and np.allclose(mid[:, 3], 1.0, atol=1e-3)
    assert np.allclose(mid[:, 5], -0.5, atol=1e-3)
    no_gyro, _ = motion.motion_windows(acc, 100.0)
    assert np.all(no_gyro[:, :, 3:] == 0.0)
    spike = acc.copy()
    spike[500] = [0.0, 0.0, 40.0]
    assert motion.motion_windows(spike, 100.0)[0].max() <= motion.CLIP


def _ecg(seconds: float, fs: float = 360.0, hr: float = 75.0) -> np.ndarray:
    return EcgSynth(fs=fs, hr_bpm=hr, rng=np.random.default_rng(3), hrv=0.0).render(int(seconds * fs))


def test_beat_vectors_are_centred_on_r_peaks_with_rr_context():
    t, vecs = beats.beat_vectors(_ecg(20.0), 360.0)
    assert vecs.shape[1] == beats.VECTOR and len(t) == len(vecs) >= 20
    rr = vecs[:, beats.WAVE :]
    assert np.allclose(rr[:, 0], 0.8, atol=0.02) and np.allclose(rr[:, 3], 1.0, atol=0.03)  # 75 bpm, steady
    wave = vecs[:, : beats.WAVE]
    assert np.all(np.abs(np.argmax(wave, axis=1) - beats.BEFORE) <= 3)  # R-peak at the centre sample


def test_a_premature_beat_shows_in_its_rr_features():
    x = beats.condition(_ecg(20.0), 360.0)
    peaks = np.arange(1, 18) * int(0.8 * beats.ECG_RATE_HZ)
    early = peaks.copy()
    early[8] -= int(0.3 * beats.ECG_RATE_HZ)
    _, normal = beats.beat_vectors_from_peaks(x, peaks)
    _, prem = beats.beat_vectors_from_peaks(x, early)
    i = 7  # peaks[8] is the 8th kept beat (the first has no pre-RR)
    assert prem[i, beats.WAVE + 3] < 0.7 < normal[i, beats.WAVE + 3]
    assert prem[i, beats.WAVE + 4] > 1.3


def test_emotion_features_read_heart_rate_and_skin_conductance():
    fs_ecg, fs_eda, fs_ppg = 250.0, 4.0, 64.0
    n = int(emotion.WINDOW_S)
    ecg = _ecg(emotion.WINDOW_S, fs_ecg, hr=90.0)
    eda = np.full(n * int(fs_eda), 5.0)
    t = np.arange(n * int(fs_ppg)) / fs_ppg
    ppg = np.sin(2 * np.pi * 1.5 * t)
    f = emotion.window_features(ecg, fs_ecg, eda, fs_eda, ppg, fs_ppg)
    assert f.shape == (emotion.STEPS, emotion.FEATURES) and np.all(np.isfinite(f))
    names = emotion.FEATURE_NAMES
    assert np.allclose(f[:, 0], 0.90, atol=0.02)  # 90 bpm / 100
    assert np.allclose(f[:, names.index("eda_level_vs_baseline")], 0.0)  # a flat EDA is its own baseline
    assert np.allclose(f[:, names.index("ppg_rate_100bpm")], 0.90, atol=0.05)  # PPG 1.5 Hz = 90 bpm / 100
    wins, starts = emotion.emotion_windows(
        {"ecg": np.concatenate([ecg, ecg]), "eda": np.concatenate([eda, eda]), "ppg": np.concatenate([ppg, ppg])},
        {"ecg": fs_ecg, "eda": fs_eda, "ppg": fs_ppg},
    )
    assert wins.shape == (len(starts), emotion.STEPS, emotion.FEATURES) and starts[0] == 0.0
