"""How the finding rule's probability threshold trades Dice, sensitivity and specificity, on the
**validation** devices (the threshold is chosen there, never on the test devices)::

    python -m cloud.imaging.threshold_study [--workdir build/cloud] [--split val] [--json F]

The model is run once per image (both looks); each threshold then re-applies the finding rule to the same
probabilities and scores Dice and detection only (no Hausdorff distances: they were most of an export's
time). :func:`choose` is how a release gets its threshold (``cloud.imaging.export`` calls it on the int8
model and records the result in the metadata's ``decision``): the highest mean Dice with a lesion among
the thresholds whose specificity meets the floor, else the most specific. The command line
prints one row per threshold for the released model and marks the release's own.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from cloud.imaging.data import ImagingDataset
from cloud.imaging.evaluation import FLOORS, score_split, summarize
from models.preprocessing import imaging as prep
from models.runtime import RELEASED_DIR, ModelRunner, released_paths

THRESHOLDS = (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6)
#: The criterion :func:`choose` applies, as the metadata records it.
CRITERION = (f"highest mean Dice with a lesion among the thresholds with specificity >= {FLOORS['specificity']:.0%}"
             " (else the most specific), int8 model on the validation devices")


def memoised(predict: prep.Predict) -> prep.Predict:
    """``predict`` that runs the model once per distinct batch (every threshold, or a second scoring of the
    same images, sees the same inputs); it keeps every output it returned."""
    seen: dict[bytes, np.ndarray] = {}

    def run(x: np.ndarray) -> np.ndarray:
        key = hashlib.sha256(np.ascontiguousarray(x).tobytes()).digest()
        if key not in seen:
            seen[key] = np.asarray(predict(x))
        return seen[key]

    return run


def figures(row: Mapping[str, float]) -> str:
    """The three figures the floors judge, as every imaging study prints them."""
    return (f"Dice with a lesion {row['dice_with_lesion']:.4f}, sensitivity {row['sensitivity']:.2%},"
            f" specificity {row['specificity']:.2%}")


def sweep(predict: prep.Predict, ds: ImagingDataset, split: str,
          thresholds: tuple[float, ...] = THRESHOLDS) -> list[dict[str, float]]:
    """Dice with a lesion, sensitivity and specificity of the finding rule at each threshold on ``split``
    (the Hausdorff distances, which these do not need, are not computed)."""
    once = memoised(predict)
    rows = []
    for t in thresholds:
        h = summarize(score_split(once, ds, split, threshold=t, distances=False))["headline"]
        rows.append({"threshold": t, **{k: h[k] for k in ("dice_with_lesion", "sensitivity", "specificity")}})
    return rows


def pick(rows: list[dict[str, float]]) -> float:
    """The threshold :data:`CRITERION` picks from :func:`sweep`'s rows (ties: the higher threshold)."""
    if not rows:
        raise ValueError("no thresholds to choose from")
    specific = [r for r in rows if r["specificity"] >= FLOORS["specificity"]]
    if specific:
        return max(specific, key=lambda r: (r["dice_with_lesion"], r["threshold"]))["threshold"]
    return max(rows, key=lambda r: (r["specificity"], r["threshold"]))["threshold"]


def choose(predict: prep.Predict, ds: ImagingDataset, thresholds: tuple[float, ...] = THRESHOLDS) -> dict[str, Any]:
    """A release's ``decision`` (``models.metadata.Decision``), chosen on the validation devices only."""
    if not len(ds.images["val"]):
        return {"threshold": prep.THRESHOLD, "chosen_on": "no validation devices: the finding rule's default"}
    rows = sweep(predict, ds, "val", thresholds)
    return {"threshold": pick(rows), "chosen_on": CRITERION, "candidates": rows}


def study(workdir: Path, models_dir: Path, split: str, thresholds: tuple[float, ...]) -> dict[str, Any]:
    from cloud.imaging.pipeline import dataset

    ds = dataset("release", workdir, False)
    runner = ModelRunner(*released_paths("imaging", models_dir))
    return {"model": "imaging", "version": runner.version, "split": split, "images": len(ds.images[split]),
            "dataset_sha256": ds.sha256, "rule_threshold": prep.release_threshold(runner.metadata.decision),
            "rows": sweep(runner.predict, ds, split, thresholds)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("build/cloud"))
    parser.add_argument("--models-dir", type=Path, default=RELEASED_DIR)
    parser.add_argument("--split", choices=("val", "test"), default="val")
    parser.add_argument("--thresholds", type=float, nargs="+", default=list(THRESHOLDS))
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    result = study(args.workdir, args.models_dir, args.split, tuple(args.thresholds))
    sys.stdout.write(f"imaging {result['version']}, {result['split']} split ({result['images']} simulated images)\n")
    for r in result["rows"]:
        mark = "  <- the release's" if r["threshold"] == result["rule_threshold"] else ""
        sys.stdout.write(f"  threshold {r['threshold']:.2f}: {figures(r)}{mark}\n")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
