"""Segmentation metrics: Dice, IoU, HD95 and the maximum Hausdorff distance (pixels and millimetres),
per image and aggregated, and lesion detection at image and lesion level. numpy and scipy only.

Definitions (stated so figures can be compared with others'):

* **Surfaces** are a mask's border pixels: the mask minus its erosion by the 4-connected cross
  (a pixel on the image edge is on the border). **Distances** are Euclidean, between pixel centres,
  from ``scipy.ndimage.distance_transform_edt`` with ``sampling`` = (1, 1) for pixels and the image's
  (row, column) spacing for millimetres; both are computed, not one scaled from the other, since
  spacing may differ between rows and columns.
* **HD95 is pooled, as MedPy's** ``medpy.metric.binary.hd95``: the 95th percentile (numpy's linear
  interpolation) of the distances from every prediction surface pixel to the reference surface and
  from every reference surface pixel to the prediction surface, taken together. (MONAI instead takes
  each direction's 95th percentile and then the larger; on these masks the two differ by a fraction of
  a pixel.) **HD** is the largest of those distances. ``tests/models/test_segmentation_metrics.py``
  checks all four figures against MedPy on random masks.
* **Empty masks** (never dropped from an average, since dropping misses makes them look better):
  both empty (a correct "no lesion"): Dice = IoU = 1, HD = HD95 = 0. Exactly one empty (a missed
  lesion or a false finding): Dice = IoU = 0, HD = HD95 = the image diagonal (the largest distance
  the image allows), in pixels and in millimetres.
* **Detection.** An image *has a lesion* when its reference mask is not empty. At lesion level, each
  reference lesion (8-connected component) is *detected* when the prediction covers at least 10 % of
  it (at least one pixel for lesions under 10 px); a predicted component that touches no reference
  lesion is a false finding (the caller applies the model's rule for what counts as a finding first:
  :func:`models.preprocessing.imaging.lesions`). The model *finds* a lesion in an image when it
  detects one or makes a false finding, so on an image without a lesion any finding counts, and on
  one with a lesion a finding that only grazes it (under 10 % covered) does not. Image-level
  sensitivity is the share of images with a lesion where one is found, specificity the share of
  images without where none is.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import ndimage

#: 4-connected cross for erosion (surfaces), 8-connected square for lesions (components).
_CROSS = ndimage.generate_binary_structure(2, 1)
_SQUARE = ndimage.generate_binary_structure(2, 2)
#: Share of a reference lesion the prediction must cover for the lesion to count as detected.
DETECTION_COVER = 0.10


@dataclass(frozen=True, slots=True)
class ImageScores:
    """One image's figures (``*_mm`` are None when the image's spacing is unknown)."""

    dice: float
    iou: float
    hd95_px: float
    hd_px: float
    hd95_mm: float | None
    hd_mm: float | None
    reference_lesions: int
    detected_lesions: int
    false_findings: int

    @property
    def has_lesion(self) -> bool:
        return self.reference_lesions > 0

    @property
    def found(self) -> bool:
        """The model found at least one lesion in the image."""
        return self.detected_lesions + self.false_findings > 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def surface(mask: np.ndarray) -> np.ndarray:
    """Border pixels of ``mask``: the mask minus its erosion by the 4-connected cross."""
    mask = np.asarray(mask, dtype=bool)
    return np.asarray(mask & ~ndimage.binary_erosion(mask, structure=_CROSS, iterations=1))


def surface_distances(a: np.ndarray, b: np.ndarray, sampling: tuple[float, float] = (1.0, 1.0)) -> np.ndarray:
    """Distance from each surface pixel of ``a`` to the nearest surface pixel of ``b`` (both non-empty)."""
    sb = surface(b)
    if not sb.any() or not np.asarray(a, dtype=bool).any():
        raise ValueError("surface distances need two non-empty masks")
    dt = ndimage.distance_transform_edt(~sb, sampling=sampling)
    return np.asarray(dt[surface(a)], dtype=np.float64)


def hausdorff(prediction: np.ndarray, reference: np.ndarray,
              sampling: tuple[float, float] = (1.0, 1.0)) -> tuple[float, float]:
    """``(HD95 pooled, HD)`` of two non-empty masks, in the units of ``sampling``."""
    d = np.concatenate([surface_distances(prediction, reference, sampling),
                        surface_distances(reference, prediction, sampling)])
    return float(np.percentile(d, 95)), float(d.max())


def dice_iou(prediction: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    """``(Dice, IoU)``; both 1 when both masks are empty."""
    p, r = np.asarray(prediction, dtype=bool), np.asarray(reference, dtype=bool)
    inter = int(np.count_nonzero(p & r))
    total = int(np.count_nonzero(p)) + int(np.count_nonzero(r))
    if total == 0:
        return 1.0, 1.0
    return 2.0 * inter / total, inter / (total - inter)


def lesion_hits(prediction: np.ndarray, reference: np.ndarray) -> tuple[int, int, int]:
    """``(reference lesions, detected lesions, false findings)`` by the rule in the module docstring."""
    p, r = np.asarray(prediction, dtype=bool), np.asarray(reference, dtype=bool)
    ref_labels, n_ref = ndimage.label(r, structure=_SQUARE)
    detected = 0
    if n_ref:
        areas = np.bincount(ref_labels.ravel(), minlength=n_ref + 1)[1:]
        covered = np.bincount(ref_labels[p], minlength=n_ref + 1)[1:]
        needed = np.maximum(1, np.where(areas < 10, 1, np.ceil(DETECTION_COVER * areas)))
        detected = int(np.count_nonzero(covered >= needed))
    pred_labels, n_pred = ndimage.label(p, structure=_SQUARE)
    touching = np.unique(pred_labels[r & p])
    false = n_pred - int(np.count_nonzero(touching))
    return int(n_ref), detected, int(false)


def score_image(prediction: np.ndarray, reference: np.ndarray,
                spacing_mm: tuple[float, float] | None = None, *, distances: bool = True) -> ImageScores:
    """All per-image figures of ``prediction`` against ``reference`` (same shape, truthy = lesion).

    ``distances=False`` leaves the Hausdorff figures out (NaN), which are most of the cost: for sweeping
    a rule's parameter by Dice and detection alone."""
    p, r = np.asarray(prediction, dtype=bool), np.asarray(reference, dtype=bool)
    if p.shape != r.shape or p.ndim != 2:
        raise ValueError(f"prediction {p.shape} and reference {r.shape} must be 2-D masks of one shape")
    dice, iou = dice_iou(p, r)
    h, w = p.shape
    hd95_mm: float | None
    hd_mm: float | None
    if not distances:
        hd95_px = hd_px = hd95_mm = hd_mm = math.nan
    elif p.any() and r.any():
        hd95_px, hd_px = hausdorff(p, r)
        hd95_mm, hd_mm = hausdorff(p, r, spacing_mm) if spacing_mm else (None, None)
    elif p.any() or r.any():  # a miss or a false finding: the largest distance the image allows
        hd95_px = hd_px = math.hypot(h - 1, w - 1)
        hd95_mm = hd_mm = math.hypot((h - 1) * spacing_mm[0], (w - 1) * spacing_mm[1]) if spacing_mm else None
    else:
        hd95_px = hd_px = 0.0
        hd95_mm = hd_mm = 0.0 if spacing_mm else None
    n_ref, detected, false = lesion_hits(p, r)
    return ImageScores(dice, iou, hd95_px, hd_px, hd95_mm, hd_mm, n_ref, detected, false)


def _summary(values: Sequence[float | None]) -> dict[str, float | int | None]:
    known = np.asarray([v for v in values if v is not None], dtype=np.float64)
    if known.size == 0:
        return {"n": 0, "mean": None, "median": None, "p95": None}
    return {"n": int(known.size), "mean": float(known.mean()), "median": float(np.median(known)),
            "p95": float(np.percentile(known, 95))}


def _ratio(a: int, b: int) -> float | None:
    return a / b if b else None


def proportion_ci(k: int, n: int, confidence: float = 0.95) -> tuple[float, float] | None:
    """Exact (Clopper-Pearson) interval of a proportion ``k / n``; None without any trial. A floor met
    by the estimate but not by the interval's lower bound may be chance of the few images scored."""
    if n == 0:
        return None
    from scipy.stats import binomtest

    ci = binomtest(k, n).proportion_ci(confidence_level=confidence, method="exact")
    return float(ci.low), float(ci.high)


def aggregate(scores: Iterable[ImageScores]) -> dict[str, Any]:
    """Means, medians and 95th percentiles over images with a lesion, without, and all (empty-mask
    images counted by the policy above, never dropped), with detection at image and lesion level."""
    items = list(scores)
    groups = {"with_lesion": [s for s in items if s.has_lesion],
              "without_lesion": [s for s in items if not s.has_lesion], "all": items}
    out: dict[str, Any] = {}
    for name, group in groups.items():
        out[name] = {key: _summary([getattr(s, key) for s in group])
                     for key in ("dice", "iou", "hd95_px", "hd_px", "hd95_mm", "hd_mm")}
        out[name]["images"] = len(group)
    pos, neg = groups["with_lesion"], groups["without_lesion"]
    tp, tn = sum(s.found for s in pos), sum(not s.found for s in neg)
    out["detection"] = {
        "images_with_lesion": len(pos), "images_without_lesion": len(neg),
        "sensitivity": _ratio(tp, len(pos)), "specificity": _ratio(tn, len(neg)),
        "sensitivity_95ci": proportion_ci(tp, len(pos)), "specificity_95ci": proportion_ci(tn, len(neg)),
        "lesions": sum(s.reference_lesions for s in items),
        "lesion_sensitivity": _ratio(sum(s.detected_lesions for s in items), sum(s.reference_lesions for s in items)),
        "false_findings_per_image": _ratio(sum(s.false_findings for s in items), len(items)),
        "rule": "image positive = reference mask not empty; a lesion is detected when >= "
                f"{DETECTION_COVER:.0%} of it is covered by the model's findings; found = a lesion detected or"
                " a finding touching no lesion",
    }
    return out
