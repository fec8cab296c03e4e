"""Emotion features do not depend on units: any positive gain and any offset of the ECG, the EDA or
the PPG give the same features (input 2, :mod:`models.preprocessing.emotion` 2.x), and the running
per-subject baseline is what they are relative to."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware_sim.emotion import RATES, EmotionStream
from firmware_sim.persona import make_persona
from models.preprocessing import emotion

STREAMS = ("ecg", "eda", "ppg")


@cache
def recording(index: int, seconds: float = 120.0) -> dict[str, np.ndarray]:
    """A simulated band recording that passes from baseline into stress (the protocol's first switch)."""
    stream = EmotionStream(make_persona(11, index), np.random.default_rng(index), cycle_s=150.0)
    return {k: v[:, 0].astype(np.float64) for k, v in stream.render(seconds).items()}


def features_of(signals: dict[str, np.ndarray]) -> np.ndarray:
    return emotion.emotion_windows(signals, {"ecg": RATES["ecg"], "eda": RATES["eda"], "ppg": RATES["ppg"]})[0]


gains = st.floats(min_value=-3.0, max_value=3.0).map(lambda e: 10.0**e)  # 0.001 .. 1000
offsets = st.floats(min_value=-5000.0, max_value=5000.0)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(index=st.integers(0, 2), gain=st.tuples(gains, gains, gains), offset=st.tuples(offsets, offsets, offsets))
def test_features_are_the_same_for_any_gain_and_offset(
    index: int, gain: tuple[float, float, float], offset: tuple[float, float, float]
) -> None:
    rec = recording(index)
    reference = features_of(rec)
    # an offset is in the channel's new units: a raw ADC channel sits thousands of counts off zero
    scaled = {s: rec[s] * g + o * g for s, g, o in zip(STREAMS, gain, offset, strict=True)}
    np.testing.assert_allclose(features_of(scaled), reference, atol=2e-3)


def test_each_gain_alone_and_the_band_of_the_issue() -> None:
    """PPG x0.01..x100 (the issue's range) and EDA in nanosiemens or raw counts change nothing."""
    rec = recording(0)
    reference = features_of(rec)
    for stream, gain, offset in (("ppg", 0.01, 0.0), ("ppg", 100.0, 2048.0), ("eda", 1000.0, 0.0),
                                 ("eda", 341.3, 1024.0), ("ecg", 0.02, 0.0), ("ecg", 409.6, 2048.0)):
        scaled = {**rec, stream: rec[stream] * gain + offset}
        np.testing.assert_allclose(features_of(scaled), reference, atol=2e-3, err_msg=f"{stream} x{gain} +{offset}")


def test_features_see_stress_relative_to_the_subjects_own_baseline() -> None:
    """The first windows are the baseline; stress later in the recording raises heart rate and EDA
    against it and narrows the PPG pulse."""
    names = emotion.FEATURE_NAMES
    stream = EmotionStream(make_persona(11, 2), np.random.default_rng(2), cycle_s=400.0)
    signals = {k: v[:, 0].astype(np.float64) for k, v in stream.render(240.0).items()}
    (start, end), = [(a, b) for a, b, label in stream.episodes if label == "stress" and a < 240.0]
    f, starts = emotion.emotion_windows(signals, {"ecg": RATES["ecg"], "eda": RATES["eda"], "ppg": RATES["ppg"]})
    assert f.shape[1:] == (emotion.STEPS, emotion.FEATURES) == (6, len(names))
    calm = f[starts + emotion.WINDOW_S <= start].mean(axis=(0, 1))
    stressed = f[(starts >= start + 15.0) & (starts + emotion.WINDOW_S <= end)].mean(axis=(0, 1))
    assert abs(calm[names.index("hr_vs_baseline_10bpm")]) < 0.3
    assert stressed[names.index("hr_vs_baseline_10bpm")] > calm[names.index("hr_vs_baseline_10bpm")] + 0.5
    assert stressed[names.index("eda_level_vs_baseline")] > calm[names.index("eda_level_vs_baseline")] + 0.5
    ppg = names.index("ppg_amplitude_vs_baseline_log")
    assert stressed[ppg] < calm[ppg] - 0.1


def test_baseline_history_is_bounded_and_carried_across_windows() -> None:
    rec = recording(2)
    rates = {"ecg": RATES["ecg"], "eda": RATES["eda"], "ppg": RATES["ppg"]}
    base = emotion.SubjectBaseline(windows=2)
    carried = emotion.emotion_windows(rec, rates, baseline=base)[0]
    assert base.windows_seen == len(carried) == 5
    alone = emotion.emotion_windows(rec, rates)[0]
    np.testing.assert_array_equal(carried[:2], alone[:2])  # the same until the history is full
    fresh = emotion.SubjectBaseline()
    np.testing.assert_array_equal(emotion.emotion_windows(rec, rates, baseline=fresh)[0], alone)
    with pytest.raises(ValueError, match="windows must be >= 1"):
        emotion.SubjectBaseline(windows=0)


def test_flat_or_missing_channels_give_zero_relative_features_not_nan() -> None:
    rec = recording(0)
    for stream in STREAMS:
        flat = {**rec, stream: np.full_like(rec[stream], 3.0)}
        f = features_of(flat)
        assert np.isfinite(f).all() and np.abs(f).max() <= emotion.CLIP
    flat_ppg = features_of({**rec, "ppg": np.zeros_like(rec["ppg"])})
    assert np.all(flat_ppg[..., emotion.FEATURE_NAMES.index("ppg_rate_100bpm")] == 0.0)
