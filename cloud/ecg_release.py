"""Train, export and evaluate the ECG beat model on simulated and real recordings in one run.

``python -m cloud.ecg_release [--profile release|smoke] [--workdir build/ecg_cloud] [--out build/ecg_eval]``:

1. builds (or loads the cached) :mod:`cloud.ecg_dataset` dataset;
2. trains the edge variant (:func:`cloud.train.train`, TensorFlow on the CPU);
3. exports the int8 ``.tflite`` with its metadata into ``<out>/ecg/`` through
   :func:`cloud.export.export` (so it never overwrites the released model in ``models/``);
4. evaluates float and int8 on the held-out simulated subjects and on every real record (the
   training record is reported apart, labelled as such), and writes ``<out>/ecg/report/ecg_eval.json``
   and ``report.md`` with real and simulated figures in separate, labelled tables.

The run exits 1 when a floor fails: V sensitivity >= 90 % on real annotated PVCs (where there are any)
and the simulated floors of :data:`cloud.metrics.FLOORS`.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from cloud.data import DataProfile, Dataset
from cloud.train import TrainSettings

log = logging.getLogger(__name__)

PROFILES: dict[str, tuple[DataProfile, TrainSettings]] = {
    # many short subjects rather than few long ones: what the model must learn is how beats vary
    # between people and leads, not more beats of the same person
    # class weights: square root of the inverse frequency (fully balanced weights made the model call
    # 3 % of simulated normal beats S or F)
    "release": (DataProfile(subjects=360, seconds=240.0),
                TrainSettings(epochs=40, batch_size=128, patience=6, class_weight_power=0.5)),
    "smoke": (DataProfile(subjects=8, seconds=60.0), TrainSettings(epochs=2, batch_size=64, patience=1, verbose=0)),
}
VERSION = "1.1.0"


def dataset(profile: DataProfile, workdir: Path, rebuild: bool) -> Dataset:
    from cloud import data, ecg_dataset

    directory = workdir / "ecg"
    if not rebuild and (directory / "data.npz").is_file():
        ds = data.load("ecg", directory)
        if ds.card.get("generation") == {"subjects": profile.subjects, "seconds": profile.seconds,
                                         "seed": profile.seed, "fractions": list(profile.fractions)}:
            return ds
    log.info("building the ECG dataset (%d subjects x %.0f s, augmented, plus real beats)",
             profile.subjects, profile.seconds)
    ds = ecg_dataset.build(profile)
    data.save(ds, directory)
    return ds


def _simulated_metrics(ds: Dataset, probs_float: np.ndarray, probs_int8: np.ndarray) -> dict[str, Any]:
    from cloud.metrics import classification_metrics, headline

    out = {}
    for kind, probs in (("float", probs_float), ("int8", probs_int8)):
        m = classification_metrics(ds.y["test"], probs, ds.classes)
        out[kind] = {**headline("ecg", m), "confusion": m["confusion"]}
    return out


def run(
    profile_kind: str, workdir: Path, out: Path, *, epochs: int | None = None, rebuild: bool = False
) -> dict[str, Any]:
    from cloud.device import configure

    configure("cpu")
    from cloud.export import export, load_trained
    from cloud.real_ecg.evaluate import evaluate_ecg, evaluate_predictions, input_version
    from cloud.real_ecg.records import available, load_all
    from cloud.train import train
    from models.runtime import ModelRunner

    profile, settings = PROFILES[profile_kind]
    if epochs:
        settings = replace(settings, epochs=epochs)
    ds = dataset(profile, workdir, rebuild)
    summary = train("ecg", "edge", ds, workdir, settings)
    meta = export("ecg", ds, workdir, out, version=VERSION, variant="edge")
    tflite = out / "ecg" / "ecg.tflite"
    runner = ModelRunner(tflite)
    model = load_trained(workdir, "ecg", "edge")
    simulated = _simulated_metrics(ds, np.asarray(model.predict(ds.x["test"], verbose=0)), runner.predict(ds.x["test"]))
    records = load_all() if available() else []
    if not records:
        log.warning("no real ECG fetched (scripts/fetch_real_ecg.sh): the report has simulated figures only")
    held_out = [r for r in records if r.use != "train"]
    trained_on = [r for r in records if r.use == "train"]
    version = input_version(meta)

    def float_predict(x: np.ndarray) -> np.ndarray:
        return np.asarray(model.predict(x, verbose=0)) if len(x) else np.zeros((0, len(ds.classes)))

    report = {
        "model": {"version": VERSION, "file": str(tflite), "parameters": meta["parameters"],
                  "size_bytes": meta["size_bytes"], "input": version},
        "training": {k: summary[k] for k in ("epochs_run", "seconds", "train_windows")},
        "dataset": ds.card,
        "simulated_test": {"data": "simulated held-out subjects", **simulated},
        "real_recordings_fetched": bool(records),
        "real_held_out": {"int8": evaluate_ecg(tflite, held_out),
                          "float": evaluate_predictions(float_predict, ds.classes, held_out, version)},
        "real_training_records": {"note": "these records were trained on: not an evaluation",
                                  "int8": evaluate_ecg(tflite, trained_on)},
        "simulated_checks": meta["metrics"]["checks"],
    }
    v = report["real_held_out"]["int8"]["floors"]["v_sensitivity"]
    report["floors_pass"] = all(c["pass"] for c in meta["metrics"]["checks"].values()) and v["pass"] is not False
    report_dir = out / "ecg" / "report"
    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / "ecg_eval.json").write_text(json.dumps(report, indent=2, default=float) + "\n")
    (report_dir / "report.md").write_text(markdown(report))
    return report


def markdown(report: dict[str, Any]) -> str:
    """Real and simulated figures in separate tables, each labelled."""
    sim = report["simulated_test"]
    lines = [f"# ECG beat model {report['model']['version']}: evaluation", "",
             "## Simulated held-out subjects (simulated data)", "",
             "| | accuracy | macro F1 (NSVF) | V sensitivity |", "| --- | --- | --- | --- |"]
    for kind in ("float", "int8"):
        m = sim[kind]
        lines.append(f"| {kind} | {m['accuracy']:.4f} | {m['macro_f1_NSVF']:.4f} | {m['V_sensitivity']:.4f} |")
    lines += ["", "## Real recordings never trained on (real data)", "",
              "| record | rate | beats | " + " | ".join(f"{c} (int8)" for c in "NSVFQ") + " | N (float) | annotated |",
              "| --- " * 10 + "|"]
    int8, flt = report["real_held_out"]["int8"], report["real_held_out"]["float"]
    for a, b in zip(int8["records"], flt["records"], strict=True):
        shares = " | ".join(f"{a['predicted_share'][c]:.3f}" for c in "NSVFQ")
        ann = json.dumps(a.get("confusion", "")) if "confusion" in a else "no"
        lines.append(f"| {a['record']} | {a['fs']:.0f} | {a['beats_classified']} | {shares} | "
                     f"{b['predicted_share']['N']:.3f} | {ann} |")
    lines += ["", f"Annotated N beats and beats of normal-sinus records called N (int8): {int8['normal_called_n']} "
              f"of {int8['normal_beats']}; float: {flt['normal_called_n']}.",
              f"Annotated V beats called V (int8): {int8['v_sensitivity']} of {int8['v_beats']}.", ""]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="release")
    parser.add_argument("--workdir", type=Path, default=Path("build/ecg_cloud"))
    parser.add_argument("--out", type=Path, default=Path("build/ecg_eval"))
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--rebuild-data", action="store_true")
    parser.add_argument("--release", action="store_true",
                        help="copy the exported model, its metadata, hold-out set and report into models/ecg/ "
                        "(only when every floor held)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    report = run(args.profile, args.workdir, args.out, epochs=args.epochs, rebuild=args.rebuild_data)
    sys.stdout.write(markdown(report))
    if args.release and report["floors_pass"]:
        release(args.out / "ecg")
    return 0 if report["floors_pass"] else 1


def release(exported: Path, models_dir: Path | None = None) -> None:
    """Copy an exported ECG model (``.tflite``, metadata, hold-out set) and its report into the released
    folder; the data card there is written by hand (it lists every real source and its use)."""
    import shutil

    from models.runtime import RELEASED_DIR

    target = (models_dir or RELEASED_DIR) / "ecg"
    for name in ("ecg.tflite", "ecg.json", "ecg_holdout.npz"):
        shutil.copy2(exported / name, target / name)
    (target / "report").mkdir(exist_ok=True)
    for name in ("report.md", "ecg_eval.json"):
        shutil.copy2(exported / "report" / name, target / "report" / name)


if __name__ == "__main__":
    raise SystemExit(main())
