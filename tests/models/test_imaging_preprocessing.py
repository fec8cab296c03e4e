"""The imaging model's shared pre- and post-processing: any image in, lesions out by the finding rule."""

from __future__ import annotations

import numpy as np
import pytest

from models.preprocessing import imaging as prep
from models.segmentation_metrics import dice_iou


def _disc(shape: tuple[int, int], cy: float, cx: float, r: float) -> np.ndarray:
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    return np.asarray((yy - cy) ** 2 + (xx - cx) ** 2 <= r * r)


@pytest.mark.parametrize("shape", [(128, 128), (96, 96), (240, 320), (480, 640, 3), (60, 80, 4), (1455, 2083)])
def test_model_input_is_the_fixed_grid_in_0_1_whatever_the_image(shape: tuple[int, ...]) -> None:
    pixels = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    x, box = prep.model_input(pixels)
    assert x.shape == (prep.INPUT_SIZE, prep.INPUT_SIZE, 1) and x.dtype == np.float32
    assert x.min() >= 0.0 and x.max() <= 1.0
    assert (box.height, box.width) == shape[:2] and box.side % box.block == 0
    assert max(shape[:2]) <= box.side < max(shape[:2]) + box.block  # rounded up to whole blocks


def test_letterbox_keeps_the_aspect_ratio_and_pads_black() -> None:
    pixels = np.full((48, 96), 200, np.uint8)
    x, box = prep.model_input(pixels)
    assert (box.top, box.left, box.side) == (24, 0, 96)
    assert x[:20, :, 0].max() == 0.0 and x[-20:, :, 0].max() == 0.0
    assert x[30:66, :, 0].min() == pytest.approx(1.0)  # scaled by the 99th percentile, here 200


@pytest.mark.parametrize("shape", [(128, 128), (300, 200), (90, 200)])
def test_a_lesion_maps_to_the_model_grid_and_back_onto_itself(shape: tuple[int, int]) -> None:
    mask = _disc(shape, shape[0] * 0.4, shape[1] * 0.6, min(shape) * 0.15)
    target = prep.model_target(mask)
    assert target.shape == (prep.INPUT_SIZE, prep.INPUT_SIZE) and set(np.unique(target)) == {0, 1}
    back, found = prep.lesions(target.astype(np.float32), prep.Letterbox.of(*shape))
    assert back.shape == shape and len(found) == 1
    assert dice_iou(back, mask)[0] > 0.93


def test_the_finding_rule_area_confidence_spacing_and_bbox() -> None:
    prob = np.zeros((prep.INPUT_SIZE, prep.INPUT_SIZE), np.float32)
    prob[10:20, 10:20] = 0.8  # 100 model px: a lesion
    prob[50:52, 50:53] = 0.9  # 6 model px: under MIN_AREA_MODEL_PX, no lesion
    prob[70:80, 70:75] = prep.THRESHOLD - 0.05  # under the threshold
    box = prep.Letterbox.of(96, 96)
    union, found = prep.lesions(prob, box, (0.5, 0.25))
    (lesion,) = found
    assert lesion.area_px == 100 and lesion.bbox == (10, 10, 19, 19)
    assert lesion.confidence == pytest.approx(0.8) and lesion.area_mm2 == pytest.approx(100 * 0.125)
    assert union.sum() == 100 and not union[50:52, 50:53].any()
    assert prep.lesions(prob, box)[1][0].area_mm2 is None  # spacing unknown
    # the minimum area is in model pixels: the same finding on a 4x larger image is 16x larger
    big = prep.lesions(prob, prep.Letterbox.of(384, 384))[1]
    assert len(big) == 1 and big[0].area_px == pytest.approx(1600, rel=0.1)


def test_gray_conversion_refuses_what_is_no_image() -> None:
    with pytest.raises(ValueError, match="height, width"):
        prep.model_input(np.zeros((2, 3, 5), np.uint8))
    gray = prep.to_gray(np.dstack([np.full((2, 2), v, np.uint8) for v in (100, 100, 100)]))
    assert gray.dtype == np.uint8 and (gray == 100).all()


def test_lesion_probability_averages_the_image_and_its_mirror_in_the_image_s_own_orientation() -> None:
    """A "model" that sees a lesion only in the left half of whatever it is given: on the image it finds
    the left blob, on the mirror it finds the right blob (mirrored back: the right blob's place). Where
    only one look finds something the mean is 0.5; a blob on the left only counts half in each look."""
    size = prep.INPUT_SIZE
    x = np.zeros((2, size, size, 1), np.float32)
    x[0, 40:50, 10:20, 0] = 1.0  # left blob
    x[0, 40:50, 70:80, 0] = 1.0  # right blob
    x[1, 10:20, 10:20, 0] = 1.0  # second image: left blob only

    def left_half_model(batch: np.ndarray) -> np.ndarray:
        lesion = batch[..., 0].copy()
        lesion[:, :, size // 2:] = 0.0
        return np.stack([1.0 - lesion, lesion], axis=-1)

    prob = prep.lesion_probability(left_half_model, x)
    assert prob.shape == (2, size, size) and prob.dtype == np.float32
    assert np.allclose(prob[0, 40:50, 10:20], 0.5) and np.allclose(prob[0, 40:50, 70:80], 0.5)
    assert np.allclose(prob[1, 10:20, 10:20], 0.5) and prob[1, :, size // 2:].max() == 0.0
    both = prep.lesion_probability(lambda b: np.stack([1.0 - b[..., 0], b[..., 0]], axis=-1), x)
    assert np.array_equal(both, x[..., 0])  # a mirror-symmetric model: the mean changes nothing


def test_the_finding_threshold_decides_which_pixels_make_a_lesion() -> None:
    """The rule's own threshold by default; another one (studying the rule) moves the finding with it."""
    box = prep.Letterbox.of(96, 96)
    prob = np.zeros((prep.INPUT_SIZE, prep.INPUT_SIZE), np.float32)
    prob[20:30, 20:30] = 0.45
    assert bool(prep.lesions(prob, box)[1]) == (prep.THRESHOLD <= 0.45)
    assert prep.lesions(prob, box, threshold=0.5)[1] == []
    (found,) = prep.lesions(prob, box, threshold=0.3)[1]
    assert found.area_px == 100 and found.confidence == pytest.approx(0.45)
