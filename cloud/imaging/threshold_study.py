"""How the finding rule's probability threshold trades Dice, sensitivity and specificity, on the
**validation** devices (the threshold is chosen there, never on the test devices)::

    python -m cloud.imaging.threshold_study [--workdir build/cloud] [--split val] [--json F]

The released int8 model is run once per image (both looks); each threshold then re-applies the finding
rule to the same probabilities. Prints one row per threshold and marks the rule's own.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from cloud.imaging.evaluation import score_split, summarize
from models.preprocessing import imaging as prep
from models.runtime import RELEASED_DIR, ModelRunner, released_paths

THRESHOLDS = (0.3, 0.35, 0.4, 0.45, 0.5)


def _memoised(predict: prep.Predict) -> prep.Predict:
    """``predict`` that runs the model once per distinct batch (every threshold sees the same inputs)."""
    seen: dict[bytes, np.ndarray] = {}

    def run(x: np.ndarray) -> np.ndarray:
        key = hashlib.sha256(np.ascontiguousarray(x).tobytes()).digest()
        if key not in seen:
            seen[key] = np.asarray(predict(x))
        return seen[key]

    return run


def study(workdir: Path, models_dir: Path, split: str, thresholds: tuple[float, ...]) -> dict[str, Any]:
    from cloud.imaging.pipeline import dataset

    ds = dataset("release", workdir, False)
    runner = ModelRunner(*released_paths("imaging", models_dir))
    predict = _memoised(runner.predict)
    rows = []
    for t in thresholds:
        h = summarize(score_split(predict, ds, split, threshold=t))["headline"]
        rows.append({"threshold": t, **{k: h[k] for k in ("dice_with_lesion", "sensitivity", "specificity")}})
    return {"model": "imaging", "version": runner.version, "split": split, "images": len(ds.images[split]),
            "dataset_sha256": ds.sha256, "rule_threshold": prep.THRESHOLD, "rows": rows}


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
        mark = "  <- the rule's" if r["threshold"] == result["rule_threshold"] else ""
        sys.stdout.write(f"  threshold {r['threshold']:.2f}: Dice with a lesion {r['dice_with_lesion']:.4f},"
                         f" sensitivity {r['sensitivity']:.2%}, specificity {r['specificity']:.2%}{mark}\n")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
