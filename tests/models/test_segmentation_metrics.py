"""The segmentation metrics against MedPy's (a well-kept reference implementation) on random masks,
and the empty-mask and detection policies on literal masks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage

from models.segmentation_metrics import aggregate, dice_iou, hausdorff, lesion_hits, score_image

medpy_binary = pytest.importorskip("medpy.metric.binary", reason="MedPy is in the dev extra")


def _blobs(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    field = ndimage.gaussian_filter(rng.standard_normal(shape), rng.uniform(1.0, 6.0))
    mask = field > np.quantile(field, rng.uniform(0.6, 0.97))
    return np.asarray(mask)


@pytest.mark.parametrize("seed", range(25))
def test_dice_iou_hd95_and_hd_equal_medpys_on_random_masks(seed: int) -> None:
    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(16, 97)), int(rng.integers(16, 97)))
    pred, ref = _blobs(rng, shape), _blobs(rng, shape)
    if seed % 5 == 0:  # also nearly-equal masks, where the tail matters most
        ref = ndimage.binary_dilation(pred, iterations=int(rng.integers(1, 3)))
    spacing = (float(rng.uniform(0.1, 2.0)), float(rng.uniform(0.1, 2.0)))
    dice, iou = dice_iou(pred, ref)
    assert dice == pytest.approx(medpy_binary.dc(pred, ref), abs=1e-12)
    assert iou == pytest.approx(medpy_binary.jc(pred, ref), abs=1e-12)
    hd95, hd = hausdorff(pred, ref)
    assert hd95 == pytest.approx(medpy_binary.hd95(pred, ref), abs=1e-9)
    assert hd == pytest.approx(medpy_binary.hd(pred, ref), abs=1e-9)
    s = score_image(pred, ref, spacing)
    assert s.hd95_mm == pytest.approx(medpy_binary.hd95(pred, ref, voxelspacing=spacing), abs=1e-9)
    assert s.hd_mm == pytest.approx(medpy_binary.hd(pred, ref, voxelspacing=spacing), abs=1e-9)
    assert (s.dice, s.iou, s.hd95_px, s.hd_px) == pytest.approx((dice, iou, hd95, hd))


def test_empty_masks_are_scored_by_the_stated_policy_and_never_dropped() -> None:
    empty, lesion = np.zeros((10, 20), bool), np.zeros((10, 20), bool)
    lesion[2:5, 3:7] = True
    both = score_image(empty, empty, (0.5, 0.25))
    assert (both.dice, both.iou, both.hd95_px, both.hd_mm) == (1.0, 1.0, 0.0, 0.0)
    miss = score_image(empty, lesion, (0.5, 0.25))
    diagonal_px, diagonal_mm = math.hypot(9, 19), math.hypot(9 * 0.5, 19 * 0.25)
    assert (miss.dice, miss.iou) == (0.0, 0.0)
    assert (miss.hd95_px, miss.hd_px) == pytest.approx((diagonal_px, diagonal_px))
    assert (miss.hd95_mm, miss.hd_mm) == pytest.approx((diagonal_mm, diagonal_mm))
    false = score_image(lesion, empty)
    assert false.dice == 0.0 and false.hd_px == pytest.approx(diagonal_px) and false.hd_mm is None
    perfect = score_image(lesion, lesion)
    summary = aggregate([both, miss, false, perfect])
    assert summary["with_lesion"]["dice"] == {"n": 2, "mean": 0.5, "median": 0.5, "p95": pytest.approx(0.95)}
    assert summary["all"]["dice"]["n"] == 4 and summary["all"]["dice"]["mean"] == pytest.approx(0.5)
    assert summary["without_lesion"]["hd95_px"]["mean"] == pytest.approx(diagonal_px / 2)
    d = summary["detection"]
    assert (d["sensitivity"], d["specificity"], d["lesion_sensitivity"]) == (0.5, 0.5, 0.5)
    assert d["false_findings_per_image"] == 0.25
    # 1 of 2 either way: an exact interval that holds almost everything (scipy's Clopper-Pearson)
    assert d["sensitivity_95ci"] == pytest.approx((0.0126, 0.9874), abs=1e-4) == d["specificity_95ci"]


def test_detection_intervals_narrow_with_more_images_and_are_absent_without_any() -> None:
    from models.segmentation_metrics import proportion_ci

    assert proportion_ci(0, 0) is None
    small, large = proportion_ci(19, 20), proportion_ci(950, 1000)
    assert small is not None and large is not None
    assert small[0] < large[0] < 0.95 < large[1] < small[1]
    assert proportion_ci(20, 20) == pytest.approx((0.8316, 1.0), abs=1e-4)  # all found: the upper bound is 1


def test_lesion_level_detection_counts_hits_misses_and_false_findings() -> None:
    ref = np.zeros((40, 40), bool)
    ref[2:12, 2:12] = True  # 100 px: detected when >= 10 px are covered
    ref[20:22, 20:22] = True  # 4 px: detected when one pixel is covered
    ref[30:35, 30:35] = True  # missed
    pred = np.zeros_like(ref)
    pred[2:4, 2:7] = True  # 10 px of the first
    pred[21, 21] = True
    pred[15:17, 35:38] = True  # touches nothing
    assert lesion_hits(pred, ref) == (3, 2, 1)
    pred[2:4, 2:6] = False
    pred[2:4, 2:4] = True  # 4 px of 100: not enough
    assert lesion_hits(pred, ref)[1] == 1


@pytest.mark.parametrize("seed", range(5))
def test_scoring_without_distances_keeps_every_other_figure(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    pred, ref = _blobs(rng, (48, 64)), _blobs(rng, (48, 64))
    full = score_image(pred, ref, (0.3, 0.4))
    light = score_image(pred, ref, (0.3, 0.4), distances=False)
    assert all(math.isnan(v) for v in (light.hd95_px, light.hd_px, light.hd95_mm, light.hd_mm))
    keep = ("dice", "iou", "reference_lesions", "detected_lesions", "false_findings")
    assert {k: getattr(light, k) for k in keep} == {k: getattr(full, k) for k in keep}
    assert light.found == full.found


def test_a_finding_that_only_grazes_the_lesion_does_not_find_it() -> None:
    ref = np.zeros((40, 40), bool)
    ref[2:12, 2:12] = True
    grazing = np.zeros_like(ref)
    grazing[2:4, 2:4] = True  # 4 of its 100 px: touches it, under 10 % covered
    assert not score_image(grazing, ref).found
    grazing[2:4, 4:8] = True  # 12 px
    assert score_image(grazing, ref).found
    assert score_image(grazing, np.zeros_like(ref)).found  # no lesion: any finding is a false one
