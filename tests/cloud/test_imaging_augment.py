"""Scanner-variation augmentation: the image varies, the lesion stays where it is (or mirrors with it)."""

from __future__ import annotations

import numpy as np
import pytest

from cloud.imaging.augment import augment_batch


def test_augmented_images_stay_in_0_1_and_masks_move_only_with_the_mirror() -> None:
    rng = np.random.default_rng(3)
    x = rng.uniform(0.0, 1.0, (32, 96, 96, 1)).astype(np.float32)
    y = np.zeros((32, 96, 96), np.uint8)
    y[:, 30:50, 10:25] = 1  # a lesion left of centre in every image
    ax, ay = augment_batch(x, y, np.random.default_rng(0))
    assert ax.shape == x.shape and ay.shape == y.shape and ax.dtype == x.dtype
    assert ax.min() >= 0.0 and ax.max() <= 1.0
    mirrored = np.array([np.array_equal(m, y[0, :, ::-1]) for m in ay])
    assert np.all(mirrored | np.array([np.array_equal(m, y[0]) for m in ay]))  # only ever as is or mirrored
    assert 4 < mirrored.sum() < 28  # about half
    assert not np.allclose(ax, x) and not np.allclose(ax, x[:, :, ::-1])  # the pixels themselves vary
    again = augment_batch(x, y, np.random.default_rng(0))
    assert np.array_equal(again[0], ax) and np.array_equal(again[1], ay)  # seeded: reproducible
    assert np.array_equal(y[:, 30:50, 10:25], np.ones((32, 20, 15)))  # the caller's arrays are untouched


def test_gamma_keeps_black_and_white_and_the_order_of_grey_levels(monkeypatch: pytest.MonkeyPatch) -> None:
    from cloud.imaging import augment

    x = np.linspace(0.0, 1.0, 96 * 96, dtype=np.float32).reshape(1, 96, 96, 1)
    monkeypatch.setattr(augment, "BLUR_SIGMA", (0.0, 0.0))
    monkeypatch.setattr(augment, "NOISE_SD", (0.0, 0.0))
    ax, _ = augment_batch(x, np.zeros((1, 96, 96), np.uint8), np.random.default_rng(1))
    flat = ax[0, ..., 0]
    flat = flat[:, ::-1] if not np.isclose(flat[0, 0], 0.0) else flat  # undo a mirror
    assert np.isclose(flat.ravel()[0], 0.0) and np.isclose(flat.ravel()[-1], 1.0)
    assert np.all(np.diff(flat.ravel()) >= 0)
