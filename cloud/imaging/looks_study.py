"""Would more looks at each image than the mirror help the finding rule? On the **validation** devices::

    python -m cloud.imaging.looks_study [--workdir build/cloud] [--variants mirror gamma shift] [--json F]

The finding rule already averages the model over an image and its left-right mirror
(:func:`models.preprocessing.imaging.lesion_probability`). Averaging over further looks (test-time
augmentation) is the cheapest change left that needs no training: each look is one more int8 invoke
(~1 ms) on an image that arrives every ten minutes per patient. Two kinds are studied:

- ``gamma``: the input raised to 0.8 and 1.25 besides 1 (the grey curves ``--augment`` trains on);
- ``shift``: the input moved by one model pixel up, down, left and right besides not at all, the output
  moved back (a network with pooling is not exactly translation-equivariant, so each is another look).

Each variant's looks are averaged before the mirror pass as the rule makes it, then the same thresholds
as :mod:`cloud.imaging.threshold_study` are swept and its criterion picks one. The test devices are
never scored here: a variant that helped on validation would be released and scored by ``iomt export``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from cloud.imaging.threshold_study import THRESHOLDS, figures, pick, sweep
from models.preprocessing import imaging as prep
from models.runtime import RELEASED_DIR, ModelRunner, released_paths

#: Looks per variant: gamma exponents and (row, column) shifts in model pixels.
VARIANTS: dict[str, tuple[tuple[float, ...], tuple[tuple[int, int], ...]]] = {
    "mirror": ((1.0,), ((0, 0),)),
    "gamma": ((0.8, 1.0, 1.25), ((0, 0),)),
    "shift": ((1.0,), ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1))),
}


def shifted(x: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """``x`` ``(n, h, w, ...)`` moved by ``rows`` down and ``cols`` right; what enters is 0 (black, as the
    letterbox pads)."""
    out = np.zeros_like(x)
    h, w = x.shape[1], x.shape[2]
    out[:, max(0, rows):h + min(0, rows), max(0, cols):w + min(0, cols)] = \
        x[:, max(0, -rows):h + min(0, -rows), max(0, -cols):w + min(0, -cols)]
    return out


def with_looks(predict: prep.Predict, gammas: tuple[float, ...],
               shifts: tuple[tuple[int, int], ...]) -> prep.Predict:
    """``predict`` averaged over every gamma x shift look at its inputs (outputs moved back)."""

    def run(x: np.ndarray) -> np.ndarray:
        outs = []
        for g in gammas:
            xg = x if g == 1.0 else np.clip(x, 0.0, 1.0) ** g
            for r, c in shifts:
                p = np.asarray(predict(shifted(xg, r, c)))
                outs.append(shifted(p, -r, -c) if (r or c) else p)
        return np.asarray(np.mean(outs, axis=0), dtype=np.float32)

    return run


def study(workdir: Path, models_dir: Path, variants: list[str]) -> dict[str, Any]:
    from cloud.imaging.pipeline import dataset

    ds = dataset("release", workdir, False)
    runner = ModelRunner(*released_paths("imaging", models_dir))
    result: dict[str, Any] = {"model": "imaging", "version": runner.version, "split": "val",
                              "images": len(ds.images["val"]), "dataset_sha256": ds.sha256, "simulated": True,
                              "variants": {}}
    for name in variants:
        gammas, shifts = VARIANTS[name]
        rows = sweep(with_looks(runner.predict, gammas, shifts), ds, "val", THRESHOLDS)
        result["variants"][name] = {"gammas": list(gammas), "shifts": [list(s) for s in shifts],
                                    "invokes_per_image": 2 * len(gammas) * len(shifts),
                                    "threshold": pick(rows), "rows": rows}
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("build/cloud"))
    parser.add_argument("--models-dir", type=Path, default=RELEASED_DIR)
    parser.add_argument("--variants", nargs="+", choices=sorted(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    result = study(args.workdir, args.models_dir, args.variants)
    sys.stdout.write(f"imaging {result['version']}, validation split ({result['images']} simulated images)\n")
    for name, v in result["variants"].items():
        row = next(r for r in v["rows"] if r["threshold"] == v["threshold"])
        sys.stdout.write(f"  {name} ({v['invokes_per_image']} invokes): threshold {v['threshold']:.2f},"
                         f" {figures(row)}\n")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
