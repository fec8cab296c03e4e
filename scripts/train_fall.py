"""Train, export (int8, into build/) and evaluate the impact-centred fall model, phase 1 of issue 11.

    nice -n 10 .venv/bin/python scripts/train_fall.py [--subjects 60] [--seconds 1800] [--epochs 30]
        [--workdir build/fall_v2] [--figures models/fall/report/phase1] [--skip-train]

Steps: fetch the real recordings (cloud.real_motion), build the dataset (cloud.fall_data; simulated
subjects with random mounts + real training recordings under random rotations), train the ``edge``
variant (cloud.train), export int8 + float32 .tflite with cloud.export.export into
``<workdir>/models/fall/`` (never into models/: the release is made with ``iomt train fall`` / ``iomt export
fall --version 1.1.0`` / ``iomt eval fall``, see models/fall/DATACARD.md), then run
``cloud.eval_fall`` with the int8 model through LiteRT and the float model: real recordings (worn
and rotated, with both classic rules), simulated falls per kind, simulated daily activity. Writes
``<workdir>/report/eval.json`` and the figures.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger("train_fall")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--subjects", type=int, default=60)
    p.add_argument("--seconds", type=float, default=1800.0)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--workdir", type=Path, default=Path("build/fall_v2"))
    p.add_argument("--figures", type=Path, default=Path("models/fall/report/phase1"))
    p.add_argument("--per-kind", type=int, default=40, help="simulated falls per kind")
    p.add_argument("--skip-train", action="store_true", help="evaluate the model already in --workdir")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    from cloud import data as cdata
    from cloud import fall_data, real_motion
    from cloud.device import configure

    configure("cpu")
    real_motion.fetch()
    real = real_motion.load_all()
    profile = cdata.DataProfile(subjects=args.subjects, seconds=args.seconds, seed=7)
    data_dir = args.workdir / "data"
    ds = None
    if (data_dir / "data.npz").is_file():
        ds = cdata.load("fall", data_dir)
        if ds.card.get("generation") != cdata._profile_dict(profile) or "impact" not in ds.card["dataset"]:
            ds = None
    if ds is None:
        t = time.perf_counter()
        ds = fall_data.build(profile, real)
        cdata.save(ds, data_dir)
        log.info("dataset built in %.0f s: %s", time.perf_counter() - t, ds.card["class_counts"])
    from cloud.export import export, load_trained
    from cloud.train import TrainSettings, train

    if not args.skip_train:
        settings = TrainSettings(epochs=args.epochs, batch_size=64, patience=6, learning_rate=2e-3, verbose=2)
        summary = train("fall", "edge", ds, args.workdir, settings)
        log.info("trained: %s", {k: summary[k] for k in ("epochs_run", "seconds", "parameters")})
        export("fall", ds, args.workdir, args.workdir / "models", version="1.1.0-rc1", variant="edge")
    model = load_trained(args.workdir, "fall", "edge")
    report = evaluate(args, model, real)
    report["dataset"] = {k: ds.card[k] for k in ("class_counts", "windows", "sha256")}
    report["dataset"]["real_used_for_training"] = sorted(ds.card["real_data"]["used_for_training"])
    out = args.workdir / "report"
    out.mkdir(parents=True, exist_ok=True)
    (out / "eval.json").write_text(json.dumps(report, indent=1) + "\n")
    from cloud.fall_figures import figures

    figures(report, args.figures)
    summary_path = args.figures / "summary.json"
    summary_path.write_text(json.dumps(_summary(report), indent=1) + "\n")
    log.info("wrote %s and figures in %s", out / "eval.json", args.figures)
    return 0


def evaluate(args: argparse.Namespace, model: Any, real: list[Any]) -> dict[str, Any]:
    from cloud.eval_fall import (
        evaluate_recordings,
        litert_scorer,
        simulated_daily_false_alarms,
        simulated_sensitivity,
        spliced_sensitivity,
    )

    tflite = args.workdir / "models" / "fall" / "fall.tflite"
    int8 = litert_scorer(tflite, tflite.with_suffix(".json"))

    def float_scorer(x: np.ndarray) -> np.ndarray:
        return np.asarray(model(x, training=False))[:, 1]

    report: dict[str, Any] = {"model": str(tflite), "tflite_bytes": tflite.stat().st_size}
    for name, scorer in (("int8", int8), ("float", float_scorer)):
        t = time.perf_counter()
        held = [r for r in real if r.use == "heldout"]
        seen = [r for r in real if r.use == "train"]
        report[name] = {
            "real_heldout": evaluate_recordings(held, scorer, group=lambda r: f"{r.source}:{r.placement}"),
            "real_seen_in_training": evaluate_recordings(seen, scorer, group=lambda r: f"{r.source}:{r.placement}"),
            "simulated_falls_worn": simulated_sensitivity(scorer, per_kind=args.per_kind),
            "simulated_falls_rotated": simulated_sensitivity(scorer, per_kind=args.per_kind, rotate_again=True),
            "simulated_falls_acc_only": simulated_sensitivity(scorer, per_kind=args.per_kind, with_gyro=False),
            "spliced_into_real": spliced_sensitivity(real, scorer, per_kind=args.per_kind),
            "simulated_daily": simulated_daily_false_alarms(scorer),
        }
        log.info("%s evaluated in %.0f s", name, time.perf_counter() - t)
    return report


def _summary(report: dict[str, Any]) -> dict[str, Any]:
    """The figures without the alarm lists (small enough to commit)."""

    def strip(d: Any) -> Any:
        if isinstance(d, dict):
            return {k: strip(v) for k, v in d.items() if k != "alarm_list"}
        return d

    return strip(report)


if __name__ == "__main__":
    raise SystemExit(main())
