"""Scoring segmentation outputs on a split: lesions by the shared finding rule, then the metrics of
:mod:`models.segmentation_metrics` in each image's own pixels and millimetres; headline figures, floors
and per-stratum breakdowns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from cloud.imaging.data import ImagingDataset
from firmware_sim.imaging.visibility import below_search_null
from models.preprocessing import imaging as prep
from models.segmentation_metrics import ImageScores, aggregate, score_image

#: The issue's floors, on held-out simulated devices.
FLOORS = {"dice_with_lesion": 0.85, "sensitivity": 0.95, "specificity": 0.95}
#: int8 may lose at most this much mean Dice against float.
INT8_DICE_TOLERANCE = 0.02
Predict = prep.Predict


@dataclass(frozen=True, slots=True)
class SplitResult:
    scores: list[ImageScores]
    masks: list[np.ndarray]
    confidences: list[list[float]]
    #: largest component (probability >= THRESHOLD) in model-grid pixels, whatever its size: the score
    #: the minimum-area rule thresholds, so the ROC of the finding rule sweeps it
    largest_model_px: np.ndarray


def _largest(prob: np.ndarray, threshold: float) -> float:
    from scipy import ndimage

    labels, n = ndimage.label(prob >= threshold, structure=np.ones((3, 3), bool))
    return float(np.bincount(labels.ravel())[1:].max()) if n else 0.0


def score_split(predict: Predict, ds: ImagingDataset, split: str, batch: int = 64,
                threshold: float = prep.THRESHOLD, distances: bool = True) -> SplitResult:
    """Run ``predict`` (model inputs -> per-pixel class probabilities) over ``split`` and score it by the
    finding rule (with another ``threshold``, and without the Hausdorff ``distances``, only to study the
    rule: :mod:`cloud.imaging.threshold_study`)."""
    scores, masks, confs, largest = [], [], [], []
    images, refs, spacing = ds.images[split], ds.masks[split], ds.spacing[split]
    for start in range(0, len(images), batch):
        xs, boxes = zip(*(prep.model_input(im) for im in images[start:start + batch]), strict=True)
        probs = prep.lesion_probability(predict, np.stack(xs))
        for k, (prob, box) in enumerate(zip(probs, boxes, strict=True)):
            i = start + k
            sp = (float(spacing[i][0]), float(spacing[i][1]))
            mask, found = prep.lesions(prob, box, sp, threshold)
            scores.append(score_image(mask, refs[i], sp, distances=distances))
            masks.append(mask)
            confs.append([f.confidence for f in found])
            largest.append(_largest(prob, threshold))
    return SplitResult(scores, masks, confs, np.asarray(largest))


def headline(agg: dict[str, Any]) -> dict[str, float]:
    """The figures the floors are about, plus the main distances (NaN-free floats for the metadata)."""
    w, d = agg["with_lesion"], agg["detection"]

    def f(v: Any) -> float:
        return float(v) if v is not None else 0.0

    return {
        "dice_with_lesion": f(w["dice"]["mean"]),
        "iou_with_lesion": f(w["iou"]["mean"]),
        "hd95_mm_with_lesion": f(w["hd95_mm"]["mean"]),
        "hd95_mm_with_lesion_median": f(w["hd95_mm"]["median"]),
        "hd_mm_with_lesion": f(w["hd_mm"]["mean"]),
        "hd95_px_with_lesion": f(w["hd95_px"]["mean"]),
        "dice_all": f(agg["all"]["dice"]["mean"]),
        "sensitivity": f(d["sensitivity"]),
        "specificity": f(d["specificity"]),
        "lesion_sensitivity": f(d["lesion_sensitivity"]),
        "false_findings_per_image": f(d["false_findings_per_image"]),
    }


def check_floors(float_h: dict[str, float], int8_h: dict[str, float]) -> dict[str, dict[str, Any]]:
    checks: dict[str, dict[str, Any]] = {}
    for key, floor in FLOORS.items():
        checks[f"{key} >= {floor}"] = {"value": int8_h[key], "pass": int8_h[key] >= floor}
    diff = int8_h["dice_with_lesion"] - float_h["dice_with_lesion"]
    checks[f"int8 dice_with_lesion within {INT8_DICE_TOLERANCE} of float"] = {
        "value": diff, "pass": abs(diff) <= INT8_DICE_TOLERANCE}
    return checks


def roc(result: SplitResult) -> dict[str, Any]:
    """Image-level ROC of the finding rule's minimum area (largest component, model-grid pixels)."""
    truth = np.asarray([s.has_lesion for s in result.scores])
    score = result.largest_model_px
    thresholds = np.unique(np.concatenate([[0.0, 0.5], score + 0.5]))
    points = []
    for t in thresholds:
        found = score >= t
        sens = float((found & truth).sum() / max(1, truth.sum()))
        spec = float((~found & ~truth).sum() / max(1, (~truth).sum()))
        points.append((float(t), sens, spec))
    from sklearn.metrics import roc_auc_score

    auc = float(roc_auc_score(truth, score)) if 0 < truth.sum() < len(truth) else None
    at95 = [p for p in points if p[2] >= 0.95]
    best = max(at95, key=lambda p: p[1]) if at95 else None
    return {"points": points, "auc": auc, "best_sensitivity_at_specificity_0.95": best}


def _bucket(radius: float) -> str:
    return "tiny (<6 px)" if radius < 6 else "small (6-12 px)" if radius < 12 else "large (>=12 px)"


def _cnr_bucket(cnr: float) -> str:
    """Lesion-scale contrast-to-noise ratio (firmware_sim.imaging.visibility; drawn lesions have >= 3)."""
    return "faint (<4)" if cnr < 4 else "clear (4-6)" if cnr < 6 else "strong (>=6)"


def strata(ds: ImagingDataset, split: str, result: SplitResult) -> dict[str, dict[str, dict[str, float]]]:
    """Mean Dice and detection rate of single-lesion images by modality, shape, appearance, posterior
    effect and size, and specificity of lesion-free images by modality and artefact."""
    groups: dict[str, dict[str, list[ImageScores]]] = {}

    def add(kind: str, key: str, s: ImageScores) -> None:
        groups.setdefault(kind, {}).setdefault(key, []).append(s)

    for s, truth, modality in zip(result.scores, ds.truth[split], ds.modality[split], strict=True):
        lesions = truth["lesions"]
        if len(lesions) == 1:
            (info,) = lesions
            add("modality", str(modality), s)
            add("shape", info["shape"], s)
            add("appearance", info["appearance"], s)
            add("posterior", info["posterior"], s)
            add("size", _bucket(info["radius_px"]), s)
            if "cnr" in info:  # recorded since 1.1.0's generator
                add("lesion CNR", _cnr_bucket(float(info["cnr"])), s)
                if modality == "ultrasound":
                    below = below_search_null(float(info["cnr"]), float(info["radius_model_px"]), str(modality))
                    add("ultrasound lesion vs the search null", "below" if below else "above", s)
        elif len(lesions) > 1:
            add("lesions per image", str(len(lesions)), s)
        else:
            add("no lesion: modality", str(modality), s)
            for a in truth["artefacts"]:
                add("no lesion: artefact", a, s)
    out: dict[str, dict[str, dict[str, float]]] = {}
    for kind, members in groups.items():
        out[kind] = {}
        for key, items in sorted(members.items()):
            row = {"images": float(len(items)), "found": float(np.mean([s.found for s in items]))}
            if items[0].has_lesion:
                row["dice"] = float(np.mean([s.dice for s in items]))
            out[kind][key] = row
    return out


def summarize(result: SplitResult) -> dict[str, Any]:
    agg = aggregate(result.scores)
    return {"aggregate": agg, "headline": headline(agg)}
