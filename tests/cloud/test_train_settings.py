"""The command line's epoch budget and learning rate override a profile's training settings."""

from __future__ import annotations

import pytest

from cloud.train import TrainSettings, overridden


def test_given_values_override_and_missing_ones_keep_the_profiles() -> None:
    base = TrainSettings(epochs=20, learning_rate=3e-3, patience=5)
    assert overridden(base, None, None) == base
    assert overridden(base, 8, None) == TrainSettings(epochs=8, learning_rate=3e-3, patience=5)
    assert overridden(base, None, 4e-4) == TrainSettings(epochs=20, learning_rate=4e-4, patience=5)


@pytest.mark.parametrize("bad", [0.0, -1e-3, float("nan")])
def test_a_learning_rate_that_is_not_positive_is_refused_by_name(bad: float) -> None:
    with pytest.raises(ValueError, match="learning rate must be > 0"):
        overridden(TrainSettings(), None, bad)
