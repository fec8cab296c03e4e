"""Classification metrics the way the review reports them, for binary and multi-class models.

For a binary model (classes ``(negative, positive)``) sensitivity, specificity, precision and recall
are those of the positive class; for a multi-class model they are macro-averaged one-vs-rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n: int) -> np.ndarray:
    cm = np.zeros((n, n), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    return cm


def _div(a: float, b: float) -> float:
    return float(a / b) if b > 0 else 0.0


def _auc(y_true: np.ndarray, score: np.ndarray) -> float | None:
    if y_true.min() == y_true.max():
        return None  # undefined with a single class present
    return float(roc_auc_score(y_true, score))


def classification_metrics(y_true: np.ndarray, probs: np.ndarray, classes: Sequence[str]) -> dict[str, Any]:
    """accuracy, sensitivity, specificity, precision, recall, macro_f1, auc, per_class, confusion."""
    y_true = np.asarray(y_true, dtype=np.int64)
    n = len(classes)
    y_pred = np.asarray(probs).argmax(axis=1)
    cm = confusion(y_true, y_pred, n)
    total = cm.sum()
    per_class: dict[str, Any] = {}
    for i, c in enumerate(classes):
        tp = cm[i, i]
        fn = cm[i].sum() - tp
        fp = cm[:, i].sum() - tp
        tn = total - tp - fn - fp
        prec, rec = _div(tp, tp + fp), _div(tp, tp + fn)
        per_class[c] = {
            "support": int(cm[i].sum()),
            "sensitivity": rec,
            "recall": rec,
            "specificity": _div(tn, tn + fp),
            "precision": prec,
            "f1": _div(2 * prec * rec, prec + rec),
            "auc": _auc((y_true == i).astype(int), probs[:, i]) if len(y_true) else None,
        }
    present = [c for c in classes if per_class[c]["support"] > 0]

    def macro(key: str) -> float:
        vals = [per_class[c][key] for c in present if per_class[c][key] is not None]
        return float(np.mean(vals)) if vals else 0.0

    out: dict[str, Any] = {"accuracy": _div(np.trace(cm), total), "macro_f1": macro("f1"), "n": int(total)}
    if n == 2:
        pos = per_class[classes[1]]
        out.update({k: pos[k] for k in ("sensitivity", "specificity", "precision", "recall", "auc")})
    else:
        out.update({k: macro(k) for k in ("sensitivity", "specificity", "precision", "recall", "auc")})
    out["per_class"] = per_class
    out["confusion"] = cm.tolist()
    return out


def cohen_kappa(cm: np.ndarray | list[list[int]], weights: str | None = None) -> float:
    """Cohen's kappa of a confusion matrix (rows: reference, columns: the other rater); ``weights``
    ``"quadratic"`` for ordered classes (a near miss costs less than a far one)."""
    m = np.asarray(cm, dtype=np.float64)
    n = m.sum()
    if n == 0:
        return 0.0
    k = len(m)
    expected = np.outer(m.sum(axis=1), m.sum(axis=0)) / n
    i, j = np.indices((k, k))
    w = ((i - j) / max(1, k - 1)) ** 2 if weights == "quadratic" else (i != j).astype(np.float64)
    denominator = float((w * expected).sum())
    return 1.0 - float((w * m).sum()) / denominator if denominator > 0 else 1.0


def roc_points(
    y_true: np.ndarray, probs: np.ndarray, classes: Sequence[str]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """One-vs-rest ROC curve ``(fpr, tpr)`` per class present with both outcomes."""
    curves = {}
    for i, c in enumerate(classes):
        t = (np.asarray(y_true) == i).astype(int)
        if 0 < t.sum() < len(t):
            fpr, tpr, _ = roc_curve(t, probs[:, i])
            curves[c] = (fpr, tpr)
    return curves


def headline(name: str, m: dict[str, Any]) -> dict[str, float]:
    """The numbers the floors are about, per model."""
    h = {
        "accuracy": m["accuracy"],
        "macro_f1": m["macro_f1"],
        "sensitivity": m["sensitivity"],
        "specificity": m["specificity"],
    }
    if name == "ecg":
        h["V_sensitivity"] = m["per_class"]["V"]["sensitivity"]
        h["macro_f1_NSVF"] = float(np.mean([m["per_class"][c]["f1"] for c in "NSVF"]))
    if name == "emotion":
        h["stress_vs_not_accuracy"] = stress_vs_not(m)
    if name == "vitals":
        h["cohen_kappa"] = cohen_kappa(m["confusion"])
        h["quadratic_kappa"] = cohen_kappa(m["confusion"], "quadratic")
        h["high_sensitivity"] = m["per_class"]["high"]["sensitivity"]
    return h


def stress_vs_not(m: dict[str, Any]) -> float:
    """Accuracy of the binary stress / not-stress decision read off the 3-class confusion matrix."""
    cm = np.asarray(m["confusion"])
    s = 1  # index of "stress"
    correct = cm[s, s] + np.delete(np.delete(cm, s, 0), s, 1).sum()
    return _div(correct, cm.sum())


def fall_like_specificity(
    y_true: np.ndarray, probs: np.ndarray, tags: np.ndarray, real: bool = False
) -> dict[str, Any]:
    """Specificity on the negative windows with a tag, overall and per tag.

    Tags are fall-like simulated activities, or ``real:<activity>`` for real smartwatch windows;
    ``real=True`` selects the latter, ``False`` the former.
    """
    pred = np.asarray(probs).argmax(axis=1)
    is_real = np.char.startswith(tags.astype(str), "real:")
    neg = (np.asarray(y_true) == 0) & (tags != "") & (is_real if real else ~is_real)
    out: dict[str, Any] = {"windows": int(neg.sum()), "specificity": _div(float((pred[neg] == 0).sum()), neg.sum())}
    out["per_activity"] = {
        str(t): {"windows": int(m.sum()), "specificity": _div(float((pred[m] == 0).sum()), m.sum())}
        for t in np.unique(tags[neg])
        for m in [neg & (tags == t)]
    }
    return out


FLOORS: dict[str, dict[str, float]] = {
    "fall": {"sensitivity": 0.95, "specificity": 0.99},
    "ecg": {"macro_f1_NSVF": 0.90, "V_sensitivity": 0.95},
    "emotion": {"accuracy": 0.90, "stress_vs_not_accuracy": 0.95},
    # agreement with NEWS2 on the true vitals, from noisy readings (simulated)
    "vitals": {"accuracy": 0.85, "cohen_kappa": 0.80, "high_sensitivity": 0.95},
}
#: int8 may fall at most this far (in points, i.e. 0.015 as a fraction) below float on any headline metric.
INT8_TOLERANCE = 0.015
SIZE_RATIO_FLOOR = 0.30


def check_floors(name: str, float_m: dict[str, Any], int8_m: dict[str, Any]) -> dict[str, Any]:
    """Each floor with the int8 value and whether it passes."""
    h8, hf = headline(name, int8_m), headline(name, float_m)
    checks: dict[str, Any] = {}
    for key, floor in FLOORS.get(name, {}).items():
        checks[f"{key} >= {floor}"] = {"value": h8[key], "pass": h8[key] >= floor}
    for key in h8:
        checks[f"int8 {key} within 1.5 points of float"] = {
            "value": h8[key] - hf[key],
            "pass": h8[key] >= hf[key] - INT8_TOLERANCE,
        }
    return checks
