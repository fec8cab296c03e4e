"""The imaging limits study's image-level scores and its validation-chosen operating point, on literal
probability maps and scores (the study's figures on the released model come from its command line)."""

from __future__ import annotations

import numpy as np
import pytest

from cloud.imaging.limits_study import image_scores, operating_point


def test_scores_come_from_components_of_the_minimum_area_only() -> None:
    prob = np.zeros((96, 96))
    prob[10:14, 10:14] = 0.8  # 16 px: a component
    prob[10:13, 20:22] = 0.6  # 6 px: below the minimum area of 8
    prob[50:52, 50:54] = 0.45  # 8 px
    prob[80, 80] = 0.3  # below the threshold
    s = image_scores(prob, 0.4)
    assert s["largest_area"] == 16.0 and s["component_max"] == pytest.approx(0.8)
    assert s["component_mean"] == pytest.approx(0.8) and s["component_mass"] == pytest.approx(16 * 0.8)
    assert s["image_max"] == pytest.approx(0.8)
    small = np.zeros((96, 96))
    small[0:2, 0:3] = 0.9
    none = image_scores(small, 0.4)
    assert none["image_max"] == pytest.approx(0.9)
    assert all(none[k] == 0.0 for k in ("largest_area", "component_max", "component_mean", "component_mass"))


def test_the_cut_is_chosen_on_validation_and_applied_unchanged_to_test() -> None:
    val_truth = np.array([0] * 20 + [1] * 10, bool)
    val_score = np.concatenate([np.arange(20) / 20, np.full(10, 0.99)])  # negatives 0 .. 0.95
    # the lowest cut leaving >= 95 % of negatives at or below it is 0.9 (19 of 20)
    test_truth = np.array([0, 0, 1, 1], bool)
    point = operating_point(val_score, val_truth, np.array([0.5, 0.92, 0.95, 0.6]), test_truth, 0.95)
    assert point["cut"] == pytest.approx(0.9)
    assert (point["val_sensitivity"], point["val_specificity"]) == (1.0, 0.95)
    assert (point["test_sensitivity"], point["test_specificity"]) == (0.5, 0.5)


def test_a_split_without_both_kinds_of_image_is_refused() -> None:
    with pytest.raises(ValueError, match="with and without a lesion"):
        operating_point(np.ones(3), np.ones(3, bool), np.ones(2), np.array([0, 1], bool), 0.95)


def test_images_with_an_ultrasound_lesion_below_the_search_null_are_scored_apart() -> None:
    from types import SimpleNamespace

    from cloud.imaging.limits_study import below_search_null, search_split
    from firmware_sim.imaging.visibility import search_cnr
    from models.segmentation_metrics import ImageScores

    need = search_cnr(6.0, "ultrasound")
    assert need is not None
    lesion = {"radius_model_px": 6.0}
    truth = [{"lesions": [lesion | {"cnr": need - 0.5}]},  # ultrasound, below the search null
             {"lesions": [lesion | {"cnr": need + 0.5}]},  # ultrasound, above
             {"lesions": [lesion | {"cnr": 3.2}]},  # X-ray: no search null, never below
             {"lesions": [lesion | {"cnr": need + 1}, lesion | {"cnr": 3.1}]},  # one of two below
             {"lesions": []}]
    ds = SimpleNamespace(truth={"test": truth},
                         modality={"test": np.array(["ultrasound", "ultrasound", "xray", "ultrasound", "xray"])})
    assert below_search_null(ds, "test").tolist() == [True, False, False, True, False]  # type: ignore[arg-type]

    def image(dice: float, lesions: int, found: bool) -> ImageScores:
        return ImageScores(dice, dice, 0.0, 0.0, None, None, lesions, int(found and lesions > 0),
                           int(found and lesions == 0))

    scores = [image(0.0, 1, False), image(0.9, 1, True), image(0.8, 1, True), image(0.5, 2, True),
              image(1.0, 0, False)]
    r = search_split(ds, "test", scores)  # type: ignore[arg-type]
    assert r["below"] == {"images": 2.0, "found": 0.5, "dice": 0.25}
    assert r["above_or_xray"] == {"images": 2.0, "found": 1.0, "dice": pytest.approx(0.85)}
    assert r["without_below"]["sensitivity"] == 1.0 and r["without_below"]["specificity"] == 1.0
    assert r["without_below"]["dice_with_lesion"] == pytest.approx(0.85)


def test_the_learned_rule_is_fitted_on_training_rows_and_combines_scores() -> None:
    """Two scores that each say nothing alone (label = both high or both low) but decide it together: the
    rule fitted on the training rows separates validation and test, a single column does not."""
    from sklearn.metrics import roc_auc_score

    from cloud.imaging.limits_study import learned_rule

    rng = np.random.default_rng(3)

    def split(n: int) -> tuple[np.ndarray, np.ndarray]:
        x = rng.random((n, 6))
        return x, (x[:, 0] > 0.5) == (x[:, 1] > 0.5)

    train, val, test = split(3000), split(600), split(600)
    assert roc_auc_score(val[1], val[0][:, 0]) < 0.6
    r = learned_rule(train, val, test, 0.95)
    assert r["auc_val"] > 0.95 and r["auc_test"] > 0.95
    assert r["val_specificity"] >= 0.95 and r["test_sensitivity"] > 0.8
    # fitted on training rows only: labels shuffled there leave nothing to learn
    shuffled = (train[0], rng.permutation(train[1]))
    assert learned_rule(shuffled, val, test, 0.95)["auc_test"] < 0.7


def test_the_score_table_has_the_scores_and_the_modality() -> None:
    from cloud.imaging.limits_study import SCORES, score_table

    prob = np.zeros((2, 96, 96))
    prob[0, 10:14, 10:14] = 0.8
    table = score_table(prob, np.array(["ultrasound", "xray"]), 0.4)
    assert table.shape == (2, len(SCORES) + 1)
    assert table[0, SCORES.index("largest_area")] == 16.0 and table[1, SCORES.index("largest_area")] == 0.0
    assert list(table[:, -1]) == [1.0, 0.0]
