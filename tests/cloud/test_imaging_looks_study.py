"""The looks study's extra looks: shifts move an image and its output back, gamma looks reach the model,
and the plain variant is exactly the model (the study's figures come from its command line)."""

from __future__ import annotations

import numpy as np
import pytest

from cloud.imaging.looks_study import VARIANTS, shifted, with_looks


def _pointwise(x: np.ndarray) -> np.ndarray:
    """A model whose lesion probability is the pixel itself: exactly translation-equivariant."""
    return np.concatenate([1 - x, x], axis=-1)


def test_a_shift_moves_the_image_and_lets_black_in() -> None:
    x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1) + 1
    down_right = shifted(x, 1, 1)
    assert down_right[0, 1:, 1:, 0].tolist() == x[0, :3, :3, 0].tolist()
    assert not down_right[0, 0].any() and not down_right[0, :, 0].any()
    assert shifted(shifted(x, 0, -1), 0, 1)[0, :, 1:, 0].tolist() == x[0, :, 1:, 0].tolist()


def test_shifted_looks_of_an_equivariant_model_agree_away_from_the_border() -> None:
    x = np.random.default_rng(0).random((2, 12, 12, 1), dtype=np.float32)
    gammas, shifts = VARIANTS["shift"]
    out = with_looks(_pointwise, gammas, shifts)(x)
    assert out.shape == (2, 12, 12, 2)
    np.testing.assert_allclose(out[:, 1:-1, 1:-1, 1], x[:, 1:-1, 1:-1, 0], rtol=1e-6)
    assert not np.allclose(out[:, 0, :, 1], x[:, 0, :, 0])  # at the border the black that came in counts


def test_gamma_looks_average_the_model_over_each_grey_curve() -> None:
    x = np.full((1, 4, 4, 1), 0.5, np.float32)
    out = with_looks(_pointwise, (0.8, 1.0, 1.25), ((0, 0),))(x)
    assert float(out[0, 0, 0, 1]) == pytest.approx(np.mean([0.5 ** 0.8, 0.5, 0.5 ** 1.25]), rel=1e-6)


def test_the_plain_variant_is_the_model_itself() -> None:
    x = np.random.default_rng(1).random((3, 8, 8, 1), dtype=np.float32)
    np.testing.assert_array_equal(with_looks(_pointwise, *VARIANTS["mirror"])(x), _pointwise(x))
