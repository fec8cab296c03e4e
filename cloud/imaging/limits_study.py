"""What holds the imaging floors back, measured on the simulated devices (no model is trained here)::

    python -m cloud.imaging.limits_study [--workdir build/cloud] [--models-dir models] [--json F]

(8 min on the 2-core CPU: the model runs once over each of the 12,800 images, both looks; its outputs,
~2 GB, are kept for the run.)

These questions decide where the next effort goes:

* **Does the 96-px input cap Dice?** Each test reference mask is taken into the model's grid as training
  takes it (:func:`models.preprocessing.imaging.model_target`) and brought back onto the image by the
  finding rule's own mapping (:func:`models.preprocessing.imaging.lesions`, a perfect probability map of
  0 and 1): its Dice against the original is the best any model of this input could score.
* **Can a rule on the released model's outputs meet the detection floors?** Image-level scores from the
  int8 model's lesion probabilities at the release's threshold (over components of at least the minimum
  area: the largest one's area, the highest component maximum, mean and sum of probability; and the
  image's highest probability, whatever the components): their ROC AUC on the validation and the test
  devices, and the sensitivity and specificity on the test devices at the cut chosen on validation (the
  lowest with specificity >= the floor there). When none reaches both floors on the test devices, no
  finding rule on these outputs does: the model itself has to separate better. (An image counts as
  positive here when it has any such component; the report's "found" does not count a finding that only
  grazes a lesion, :mod:`models.segmentation_metrics`, so its sensitivity can be a little lower.)
* **Would a learned rule over those scores do it?** A gradient-boosted classifier
  (:class:`sklearn.ensemble.HistGradientBoostingClassifier`) of all the scores above and the modality,
  fitted on the released model's outputs on its **training** images, scored on validation and test the
  same way (its cut chosen on validation). Several scores together can separate where one cannot; if
  this rule misses the floors too, it is the model's outputs, not the rule, that fall short.
* **Are the lesions it misses ones anything could find?** A detection floor asks whether an image holds
  a lesion anywhere; noise alone makes a lesion-like place somewhere in a lesion-free image, the more
  lesion-like the smaller the lesion (:mod:`firmware_sim.imaging.search_study`). The images with an
  ultrasound lesion below that search null (:func:`firmware_sim.imaging.visibility.search_cnr`) against
  the rest: found and Dice, and the headline figures without them.
* **Is it the unseen scanner, or does the model not fit what it was trained on?** The released model's
  Dice, sensitivity and specificity, overall and by lesion appearance, on its own training images (as
  they are, without augmentation) beside the test devices'. Where a kind of lesion is missed as often on
  the training images, more scanners will not help it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from cloud.imaging.data import ImagingDataset
from cloud.imaging.evaluation import FLOORS, headline, score_split, strata, summarize
from cloud.imaging.threshold_study import figures, memoised
from firmware_sim.imaging import visibility
from models.preprocessing import imaging as prep
from models.runtime import RELEASED_DIR, ModelRunner, released_paths
from models.segmentation_metrics import ImageScores, aggregate, dice_iou

SCORES = ("largest_area", "component_max", "component_mean", "component_mass", "image_max")


def image_scores(prob: np.ndarray, threshold: float) -> dict[str, float]:
    """The image-level scores of one probability map (model grid) at ``threshold``; 0 where no component
    of at least :data:`models.preprocessing.imaging.MIN_AREA_MODEL_PX` is found (``image_max`` aside)."""
    p = np.asarray(prob, dtype=np.float64)
    out = dict.fromkeys(SCORES, 0.0)
    out["image_max"] = float(p.max())
    labels, n = ndimage.label(p >= threshold, structure=np.ones((3, 3), bool))
    if n == 0:
        return out
    index = np.arange(1, n + 1)
    area = np.asarray(ndimage.sum_labels(np.ones_like(p), labels, index))
    keep = area >= prep.MIN_AREA_MODEL_PX
    if not keep.any():
        return out
    mass = np.asarray(ndimage.sum_labels(p, labels, index))
    out["largest_area"] = float(area[keep].max())
    out["component_max"] = float(np.asarray(ndimage.maximum(p, labels, index))[keep].max())
    out["component_mean"] = float((mass / area)[keep].max())
    out["component_mass"] = float(mass[keep].max())
    return out


def operating_point(val_score: np.ndarray, val_truth: np.ndarray, test_score: np.ndarray,
                    test_truth: np.ndarray, specificity: float) -> dict[str, float]:
    """The lowest cut (positive: score above it) with ``specificity`` on validation, and what it gives
    there and on test. Both splits need images with and without a lesion."""
    vs, vt = np.asarray(val_score, dtype=np.float64), np.asarray(val_truth, dtype=bool)
    ts, tt = np.asarray(test_score, dtype=np.float64), np.asarray(test_truth, dtype=bool)
    if not (vt.any() and (~vt).any() and tt.any() and (~tt).any()):
        raise ValueError("each split needs images with and without a lesion")
    cut = next(c for c in np.unique(vs) if np.mean(vs[~vt] <= c) >= specificity)  # the largest value always is

    def at(s: np.ndarray, t: np.ndarray) -> tuple[float, float]:
        return float(np.mean(s[t] > cut)), float(np.mean(s[~t] <= cut))

    (val_sens, val_spec), (test_sens, test_spec) = at(vs, vt), at(ts, tt)
    return {"cut": float(cut), "val_sensitivity": val_sens, "val_specificity": val_spec,
            "test_sensitivity": test_sens, "test_specificity": test_spec}


def score_table(probs: np.ndarray, modality: np.ndarray, threshold: float) -> np.ndarray:
    """One row per image: its :data:`SCORES` at ``threshold`` and 1.0 for ultrasound (0.0 for X-ray)."""
    rows = [[*(image_scores(p, threshold)[k] for k in SCORES), float(m == "ultrasound")]
            for p, m in zip(probs, modality, strict=True)]
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(SCORES) + 1)


def learned_rule(train: tuple[np.ndarray, np.ndarray], val: tuple[np.ndarray, np.ndarray],
                 test: tuple[np.ndarray, np.ndarray], specificity: float, seed: int = 0) -> dict[str, float]:
    """A gradient-boosted rule over :func:`score_table` rows, fitted on ``train`` ``(table, truth)`` only:
    its ROC AUC on validation and test, and :func:`operating_point` at ``specificity`` on validation."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    clf = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, random_state=seed)
    clf.fit(*train)
    (xv, yv), (xt, yt) = val, test
    sv, st = clf.predict_proba(xv)[:, 1], clf.predict_proba(xt)[:, 1]
    return {"auc_val": float(roc_auc_score(yv, sv)), "auc_test": float(roc_auc_score(yt, st)),
            **operating_point(sv, yv, st, yt, specificity)}


def resolution_ceiling(ds: ImagingDataset, split: str) -> dict[str, float | int]:
    """Dice of each reference mask with a lesion after the model's grid and back (see the module docstring)."""
    dice = []
    for mask in ds.masks[split]:
        if not mask.any():
            continue
        box = prep.Letterbox.of(*mask.shape)
        back, _ = prep.lesions(prep.model_target(mask).astype(np.float32), box, None, 0.5)
        dice.append(dice_iou(back, mask)[0])
    d = np.asarray(dice)
    return {"images": int(d.size), "dice_mean": float(d.mean()), "dice_median": float(np.median(d)),
            "dice_min": float(d.min())}


def below_search_null(ds: ImagingDataset, split: str) -> np.ndarray:
    """Per image of ``split``: it holds an ultrasound lesion whose CNR is below the search null at its
    radius (:func:`firmware_sim.imaging.visibility.search_cnr`)."""
    return np.asarray([any(visibility.below_search_null(float(x["cnr"]), float(x["radius_model_px"]), str(modality))
                               for x in truth["lesions"])
                           for truth, modality in zip(ds.truth[split], ds.modality[split], strict=True)], dtype=bool)


def search_split(ds: ImagingDataset, split: str, scores: list[ImageScores]) -> dict[str, Any]:
    """How the model does on images with a lesion below the search null and on the rest; and the headline
    figures without the former (what the floors would read if the generator drew only lesions above it:
    lesion-free images, hence specificity, are unchanged)."""
    below = below_search_null(ds, split)

    def rates(items: list[ImageScores]) -> dict[str, float]:
        return {"images": float(len(items)), "found": float(np.mean([s.found for s in items])) if items else 0.0,
                "dice": float(np.mean([s.dice for s in items])) if items else 0.0}

    with_lesion = [(s, b) for s, b in zip(scores, below, strict=True) if s.has_lesion]
    kept = headline(aggregate([s for s, b in zip(scores, below, strict=True) if not b]))
    return {"below": rates([s for s, b in with_lesion if b]),
            "above_or_xray": rates([s for s, b in with_lesion if not b]),
            "without_below": {k: kept[k] for k in ("dice_with_lesion", "sensitivity", "specificity")}}


def fit(predict: prep.Predict, ds: ImagingDataset, threshold: float) -> dict[str, Any]:
    """Headline figures and per-appearance figures on the training and the test images (no distances),
    and the same beside the search null (:func:`search_split`)."""
    out: dict[str, Any] = {}
    for split in ("train", "test"):
        result = score_split(predict, ds, split, threshold=threshold, distances=False)
        h = summarize(result)["headline"]
        out[split] = {"images": len(ds.images[split]),
                      **{k: h[k] for k in ("dice_with_lesion", "sensitivity", "specificity")},
                      "by_appearance": strata(ds, split, result).get("appearance", {}),
                      "search_null": search_split(ds, split, result.scores)}
    return out


def _probabilities(predict: prep.Predict, ds: ImagingDataset, split: str, batch: int = 64) -> np.ndarray:
    """Lesion probabilities of ``split`` in the batches :func:`score_split` uses, so a memoised ``predict``
    serves :func:`fit` from the same model runs."""
    x = np.stack([prep.model_input(im)[0] for im in ds.images[split]])
    return np.concatenate([prep.lesion_probability(predict, x[i:i + batch]) for i in range(0, len(x), batch)])


def study(workdir: Path, models_dir: Path) -> dict[str, Any]:
    from sklearn.metrics import roc_auc_score

    from cloud.imaging.pipeline import dataset

    ds = dataset("release", workdir, False)
    runner = ModelRunner(*released_paths("imaging", models_dir))
    threshold = prep.release_threshold(runner.metadata.decision)
    predict = memoised(runner.predict)  # fit() scores the training and test images again from the same runs
    tables = {split: (score_table(_probabilities(predict, ds, split), ds.modality[split], threshold),
                      np.asarray([m.any() for m in ds.masks[split]])) for split in ("train", "val", "test")}
    (val, val_truth), (test, test_truth) = tables["val"], tables["test"]
    detection: dict[str, dict[str, float]] = {
        k: {"auc_val": float(roc_auc_score(val_truth, val[:, i])),
            "auc_test": float(roc_auc_score(test_truth, test[:, i])),
            **operating_point(val[:, i], val_truth, test[:, i], test_truth, FLOORS["specificity"])}
        for i, k in enumerate(SCORES)}
    detection["learned_rule"] = learned_rule(tables["train"], tables["val"], tables["test"], FLOORS["specificity"])
    return {"model": "imaging", "version": runner.version, "threshold": threshold, "dataset_sha256": ds.sha256,
            "simulated": True, "resolution_ceiling_test": resolution_ceiling(ds, "test"), "detection": detection,
            "fit": fit(predict, ds, threshold)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("build/cloud"))
    parser.add_argument("--models-dir", type=Path, default=RELEASED_DIR)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    r = study(args.workdir, args.models_dir)
    c = r["resolution_ceiling_test"]
    out = sys.stdout
    out.write(f"imaging {r['version']} (SIMULATED devices), finding threshold {r['threshold']}\n")
    out.write(f"resolution ceiling, test masks through the {prep.INPUT_SIZE}-px grid and back: Dice mean "
              f"{c['dice_mean']:.4f}, median {c['dice_median']:.4f}, min {c['dice_min']:.4f} ({c['images']} images)\n")
    spec = FLOORS["specificity"]
    out.write(f"image-level scores: AUC val / test; at the validation cut with specificity >= {spec:.0%}:"
              " sensitivity / specificity on test\n")
    for name, d in r["detection"].items():
        out.write(f"  {name:15s} AUC {d['auc_val']:.4f} / {d['auc_test']:.4f}; test {d['test_sensitivity']:.2%}"
                  f" / {d['test_specificity']:.2%}\n")
    for split, f in r["fit"].items():
        kinds = ", ".join(f"{k} {v['found']:.0%} / {v['dice']:.2f}" for k, v in f["by_appearance"].items())
        out.write(f"{split} ({f['images']} images): {figures(f)}; found / Dice by appearance: {kinds}\n")
        sn = f["search_null"]
        b, a, w = sn["below"], sn["above_or_xray"], sn["without_below"]
        out.write(f"  ultrasound lesion below the search null: {b['images']:.0f} images, found {b['found']:.1%}, Dice "
                  f"{b['dice']:.3f}; the other lesion images: {a['images']:.0f}, found {a['found']:.1%}, Dice "
                  f"{a['dice']:.3f}; without the former: {figures(w)}\n")
    if args.json:
        args.json.write_text(json.dumps(r, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
