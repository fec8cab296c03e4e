"""The threshold study runs the model once per batch of images, whatever the number of thresholds."""

from __future__ import annotations

import numpy as np

from cloud.imaging.threshold_study import _memoised


def test_each_distinct_batch_reaches_the_model_once() -> None:
    calls: list[int] = []

    def model(x: np.ndarray) -> np.ndarray:
        calls.append(len(x))
        return np.stack([1 - x, x], axis=-1)

    run = _memoised(model)
    a, b = np.zeros((2, 4, 4, 1), np.float32), np.ones((3, 4, 4, 1), np.float32)
    for _ in range(3):
        assert run(a).shape == (2, 4, 4, 1, 2) and float(run(b)[..., 1].min()) == 1.0
    assert calls == [2, 3]
