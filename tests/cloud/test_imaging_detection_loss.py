"""The segmentation loss with an image-level detection term (``iomt train imaging --detection-loss``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cloud.device import DeviceError
from cloud.pipeline import train_model
from models.definitions.imaging import DETECTION_TOP_K, dice_ce_detection_loss, dice_ce_loss


def _batch() -> tuple[np.ndarray, np.ndarray]:
    """Image 0 holds a 10 x 10 lesion, image 1 none; the prediction is background everywhere at 0.99."""
    y = np.zeros((2, 96, 96, 1), np.int32)
    y[0, 10:20, 10:20] = 1
    p = np.zeros((2, 96, 96, 2), np.float32)
    p[..., 0], p[..., 1] = 0.99, 0.01
    return y, p


def _set(p: np.ndarray, image: int, rows: slice, cols: slice, lesion: float) -> None:
    p[image, rows, cols, 1], p[image, rows, cols, 0] = lesion, 1.0 - lesion


def test_it_is_the_pixel_loss_plus_the_image_level_cross_entropy() -> None:
    y, p = _batch()
    _set(p, 0, slice(10, 20), slice(10, 20), 0.8)  # the lesion found at 0.8
    _set(p, 1, slice(50, 52), slice(50, 55), 0.6)  # a 10-pixel false finding at 0.6
    # numpy reference: image scores are the mean of the k highest lesion probabilities
    scores = np.sort(p[..., 1].reshape(2, -1), axis=1)[:, -DETECTION_TOP_K:].mean(axis=1)
    assert np.allclose(scores, [0.8, 0.6])
    bce = -(np.log(scores[0]) + np.log(1.0 - scores[1])) / 2
    total = float(dice_ce_detection_loss(y, p))
    assert total == pytest.approx(float(dice_ce_loss(y, p)) + bce, rel=1e-5)


def test_a_small_false_finding_costs_far_more_than_the_pixel_terms_charge() -> None:
    y, p = _batch()
    clean_pixel, clean_detection = float(dice_ce_loss(y, p)), float(dice_ce_detection_loss(y, p))
    _set(p, 1, slice(50, 53), slice(50, 53), 0.9)  # 9 confident pixels on the lesion-free image
    pixel_cost = float(dice_ce_loss(y, p)) - clean_pixel
    detection_cost = float(dice_ce_detection_loss(y, p)) - clean_detection
    assert pixel_cost < 0.01 < 0.5 < detection_cost


def test_finding_the_lesion_lowers_the_image_level_term() -> None:
    y, p = _batch()
    missed = float(dice_ce_detection_loss(y, p)) - float(dice_ce_loss(y, p))
    _set(p, 0, slice(10, 20), slice(10, 20), 0.9)
    found = float(dice_ce_detection_loss(y, p)) - float(dice_ce_loss(y, p))
    assert found < missed / 10


def test_other_models_refuse_the_option(tmp_path: Path) -> None:
    with pytest.raises(DeviceError, match="--detection-loss is implemented for the imaging model only"):
        train_model("fall", ["edge"], workdir=tmp_path, detection_loss=True)
