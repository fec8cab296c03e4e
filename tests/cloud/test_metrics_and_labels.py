"""Pure logic of the cloud pipeline: metrics, window labels, subject splits, class weights, device choice."""

from __future__ import annotations

import numpy as np
import pytest

from cloud.data import split_subjects
from cloud.device import DeviceError, resolve
from cloud.labels import fall_window_labels
from cloud.metrics import check_floors, classification_metrics, headline, stress_vs_not
from cloud.train import class_weights


def test_binary_metrics_are_those_of_the_positive_class():
    y = np.array([0, 0, 0, 0, 1, 1])
    p1 = np.array([0.1, 0.2, 0.6, 0.3, 0.9, 0.4])  # one false positive, one false negative
    m = classification_metrics(y, np.stack([1 - p1, p1], axis=1), ("no", "yes"))
    assert m["sensitivity"] == pytest.approx(0.5) and m["recall"] == m["sensitivity"]
    assert m["specificity"] == pytest.approx(0.75)
    assert m["precision"] == pytest.approx(0.5)
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["confusion"] == [[3, 1], [1, 1]]
    assert m["auc"] == pytest.approx(0.875)  # 7 of 8 positive-negative pairs ranked right


def test_multiclass_metrics_macro_average_one_vs_rest():
    y = np.array([0, 0, 1, 1, 2, 2])
    pred = np.array([0, 0, 1, 2, 2, 2])
    m = classification_metrics(y, np.eye(3)[pred], ("a", "b", "c"))
    assert m["per_class"]["b"]["sensitivity"] == pytest.approx(0.5)
    assert m["per_class"]["c"]["precision"] == pytest.approx(2 / 3)
    assert m["sensitivity"] == pytest.approx((1 + 0.5 + 1) / 3)
    assert m["specificity"] == pytest.approx((1 + 1 + 0.75) / 3)
    f1 = [1.0, 2 * 0.5 / 1.5, 2 * (2 / 3) / (1 + 2 / 3)]
    assert m["macro_f1"] == pytest.approx(np.mean(f1))


def test_stress_vs_not_collapses_baseline_and_amusement():
    y = np.array([0, 2, 1, 1])
    pred = np.array([2, 0, 1, 0])  # baseline<->amusement confusions do not count
    m = classification_metrics(y, np.eye(3)[pred], ("baseline", "stress", "amusement"))
    assert m["accuracy"] == pytest.approx(0.25)
    assert stress_vs_not(m) == pytest.approx(0.75)
    assert headline("emotion", m)["stress_vs_not_accuracy"] == pytest.approx(0.75)


def test_floor_checks_flag_int8_drops_beyond_one_and_a_half_points():
    y = np.array([0] * 98 + [1] * 2)
    good = np.eye(2)[y]
    worse = good.copy()
    worse[[0, 1]] = [0.0, 1.0]  # two false positives: specificity 0.9796
    checks = check_floors(
        "fall", classification_metrics(y, good, ("n", "f")), classification_metrics(y, worse, ("n", "f"))
    )
    assert checks["sensitivity >= 0.95"]["pass"]
    assert not checks["specificity >= 0.99"]["pass"]
    assert not checks["int8 specificity within 1.5 points of float"]["pass"]
    assert checks["int8 sensitivity within 1.5 points of float"]["pass"]


def test_fall_windows_positive_when_they_hold_the_fall_and_ambiguous_when_they_graze_it():
    starts = np.array([0.0, 1.0, 2.0, 3.0, 4.5, 5.7, 6.0])
    y = fall_window_labels(starts, [(5.0, 5.6)], 2.0)
    # clear, clear, clear, touches the guard, holds the fall, holds 0 s of it but is within the guard, clear
    assert y.tolist() == [0, 0, 0, -1, 1, -1, 0]


def test_subject_split_is_disjoint_complete_and_deterministic():
    subjects = [f"s{i:03d}" for i in range(20)]
    a = split_subjects(subjects, 7, (0.6, 0.2, 0.2))
    assert a == split_subjects(list(reversed(subjects)), 7, (0.6, 0.2, 0.2))
    assert sorted(a["train"] + a["val"] + a["test"]) == subjects
    assert not set(a["train"]) & set(a["test"]) and not set(a["val"]) & set(a["test"])
    assert len(a["test"]) == 4 and len(a["val"]) == 4
    assert a != split_subjects(subjects, 8, (0.6, 0.2, 0.2))


def test_class_weights_balance_the_loss():
    w = class_weights(np.array([0] * 90 + [1] * 10), 3)
    assert w[1] / w[0] == pytest.approx(9.0)
    assert w[2] == 1.0  # absent class
    soft = class_weights(np.array([0] * 90 + [1] * 10), 3, power=0.5)
    assert soft[1] / soft[0] == pytest.approx(3.0) and soft[0] + soft[1] == pytest.approx(2.0)


def test_device_choice_without_a_gpu():
    assert resolve("cpu").backend == "tensorflow"
    auto = resolve("auto")
    assert auto.device in ("cpu", "gpu") and auto.backend == ("jax" if auto.device == "gpu" else "tensorflow")
    if auto.device == "cpu":
        with pytest.raises(DeviceError, match="no GPU"):
            resolve("gpu")
    with pytest.raises(DeviceError, match="unknown device"):
        resolve("tpu")
