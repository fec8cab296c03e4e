"""Model inputs of many windows at once are each window's own: grouped by shape, returned in order."""

from __future__ import annotations

import numpy as np
import pytest

from edge.dsp import emotion
from models.preprocessing.emotion import SubjectBaseline, window_features


def test_emotion_inputs_of_mixed_rates_are_each_windows_own_in_order() -> None:
    rng = np.random.default_rng(6)

    def window(ecg_hz: float, scale: float) -> emotion.EmotionSamples:
        t = np.arange(int(60 * ecg_hz)) / ecg_hz
        ecg = scale * np.sin(2 * np.pi * 1.2 * t) ** 15 + rng.normal(0, 0.02, t.size)  # spiky, 72 bpm
        return (ecg, ecg_hz, rng.normal(2, 0.1, 60 * 4), 4.0, rng.normal(0, 1, 60 * 64), 64.0)

    windows = [window(700.0, 1.0), window(256.0, 1.0), window(700.0, 0.5)]
    baselines = [SubjectBaseline() for _ in windows]
    inputs = emotion.model_inputs(windows, baselines)
    assert len(inputs) == 3
    for w, x in zip(windows, inputs, strict=True):
        assert np.array_equal(x, window_features(*w))
    assert not np.array_equal(inputs[0], inputs[2])
    # each window updated its own wearer's baseline, as one window after another does in training
    reference = [SubjectBaseline() for _ in windows]
    for w, b in zip(windows, reference, strict=True):
        window_features(*w, baseline=b)
    again = emotion.model_inputs(windows, baselines)
    for w, b, x in zip(windows, reference, again, strict=True):
        assert np.array_equal(x, window_features(*w, baseline=b))
    assert [b.windows_seen for b in baselines] == [2, 2, 2]
    with pytest.raises(ValueError, match="one baseline per window"):
        emotion.model_inputs(windows, baselines[:2])
