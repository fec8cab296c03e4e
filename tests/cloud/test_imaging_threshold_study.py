"""The threshold study runs the model once per batch of images, whatever the number of thresholds, and a
release's threshold is picked by its stated criterion."""

from __future__ import annotations

import numpy as np
import pytest

from cloud.imaging.threshold_study import memoised, pick


def test_each_distinct_batch_reaches_the_model_once() -> None:
    calls: list[int] = []

    def model(x: np.ndarray) -> np.ndarray:
        calls.append(len(x))
        return np.stack([1 - x, x], axis=-1)

    run = memoised(model)
    a, b = np.zeros((2, 4, 4, 1), np.float32), np.ones((3, 4, 4, 1), np.float32)
    for _ in range(3):
        assert run(a).shape == (2, 4, 4, 1, 2) and float(run(b)[..., 1].min()) == 1.0
    assert calls == [2, 3]


def _row(t: float, dice: float, spec: float) -> dict[str, float]:
    return {"threshold": t, "dice_with_lesion": dice, "sensitivity": 0.9, "specificity": spec}


def test_the_best_dice_among_the_specific_enough_thresholds_is_picked() -> None:
    rows = [_row(0.3, 0.83, 0.93), _row(0.4, 0.81, 0.951), _row(0.5, 0.80, 0.97), _row(0.6, 0.81, 0.98)]
    assert pick(rows) == 0.6  # 0.3 has the best Dice but misses the specificity; 0.4 and 0.6 tie: the higher
    assert pick(rows[:3]) == 0.4


def test_when_no_threshold_is_specific_enough_the_most_specific_is_picked() -> None:
    assert pick([_row(0.3, 0.83, 0.90), _row(0.5, 0.70, 0.94), _row(0.4, 0.80, 0.92)]) == 0.5
    with pytest.raises(ValueError, match="no thresholds"):
        pick([])
