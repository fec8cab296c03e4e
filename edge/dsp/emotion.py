"""Emotion windows: the model input of many minute-long ECG + EDA + PPG windows at once."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from models.preprocessing.emotion import SubjectBaseline, window_features_many

#: One window's ECG, EDA and PPG samples, each with its rate: ``(ecg, ecg_hz, eda, eda_hz, ppg, ppg_hz)``.
EmotionSamples = tuple[np.ndarray, float, np.ndarray, float, np.ndarray, float]


def model_inputs(windows: Sequence[EmotionSamples], baselines: Sequence[SubjectBaseline]) -> list[np.ndarray]:
    """The emotion model's input (:func:`~models.preprocessing.emotion.window_features_many`, shared with
    training) of each window, in order, window ``i`` relative to its wearer's ``baselines[i]``, which it
    updates (so one wearer's windows must come in time order; the edge hands each wearer's at most once
    per call). Windows with the same rates and lengths are computed together."""
    if len(baselines) != len(windows):
        raise ValueError(f"{len(windows)} windows but {len(baselines)} baselines: one baseline per window")
    groups: dict[tuple[float | int, ...], list[int]] = {}
    for i, (ecg, ecg_hz, eda, eda_hz, ppg, ppg_hz) in enumerate(windows):
        groups.setdefault((ecg_hz, len(ecg), eda_hz, len(eda), ppg_hz, len(ppg)), []).append(i)
    inputs: list[np.ndarray] = [np.empty(0)] * len(windows)
    for (ecg_hz, _, eda_hz, _, ppg_hz, _), rows in groups.items():
        ecg, eda, ppg = (np.stack([windows[i][k] for i in rows]) for k in (0, 2, 4))
        features = window_features_many(ecg, ecg_hz, eda, eda_hz, ppg, ppg_hz, [baselines[i] for i in rows])
        for i, x in zip(rows, features, strict=True):
            inputs[i] = x
    return inputs
