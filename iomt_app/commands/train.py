"""``iomt train|export|eval MODEL``: the cloud pipeline's commands (TensorFlow/Keras imported lazily)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from models.definitions import MODEL_NAMES, VARIANTS

DEFAULT_WORKDIR = Path("build/cloud")


def register(sub: Any) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("model", choices=MODEL_NAMES)
    common.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR, help="datasets, .keras files, logs")
    common.add_argument("--profile", choices=("release", "smoke"), default="release", help="data and epochs")
    common.add_argument("--rebuild-data", action="store_true", help="simulate the dataset again even if cached")

    p = sub.add_parser("train", parents=[common], help="train a model (full cloud or compact edge variant)")
    p.add_argument("--variant", choices=(*VARIANTS, "both"), default="edge")
    p.add_argument("--device", choices=("auto", "cpu", "gpu"), default="auto", help="gpu uses Keras' JAX backend")
    p.add_argument("--epochs", type=int, help="override the profile's epoch budget")
    p.add_argument("--learning-rate", type=_learning_rate,
                   help="override the profile's initial learning rate (imaging --resume starts at a quarter of it)")
    p.add_argument("--resume", action="store_true", help="imaging: continue from the saved .keras of the variant")
    p.add_argument("--augment", action="store_true",
                   help="imaging: show each training image through a random scanner variation (gamma, blur, noise)")
    p.add_argument("--detection-loss", action="store_true",
                   help="imaging: add an image-level loss on whether each image holds a lesion")
    p.set_defaults(func=_train)

    p = sub.add_parser("export", parents=[common], help="int8 .tflite + metadata JSON into models/<name>/")
    p.add_argument("--out", type=Path, default=Path("models"), help="directory holding <name>/<name>.tflite")
    p.add_argument("--version", default="1.0.0", help="semantic version written to the metadata")
    p.add_argument("--variant", choices=VARIANTS, default="edge")
    p.set_defaults(func=_export)

    p = sub.add_parser(
        "eval", parents=[common],
        help="the released .tflite on real recordings (models with a real-recording evaluation; exit 1 when a "
        "floor fails), or --simulated: float vs int8 on the held-out simulated subjects",
    )
    p.add_argument("--report", type=Path, help="report directory (default build/eval/<model>)")
    p.add_argument("--models-dir", type=Path, default=Path("models"), help="directory holding <name>/<name>.tflite")
    p.add_argument("--recordings", type=Path,
                   help="folder of real recordings (fall: CSV/WFDB of daily activity; default: the fetched real "
                   "recordings no model was trained on)")
    p.add_argument("--simulated", action="store_true",
                   help="the float vs int8 report on the simulated test subjects instead (needs the trained model)")
    p.add_argument("--acc-unit", choices=("g", "mg", "m/s2"), help="fall: acceleration unit of recordings that "
                   "do not state it")
    p.add_argument("--gyro-unit", choices=("deg/s", "rad/s"), help="fall: angular-rate unit of recordings that "
                   "do not state it")
    p.add_argument("--rate", type=float, help="fall: sample rate of CSVs without a time column (Hz)")
    p.add_argument("--placement", help="fall: where the sensor was worn (waist, wrist, ...)")
    p.add_argument("--per-kind", type=int, help="fall: simulated falls per kind (default 40)")
    p.add_argument("--daily-subjects", type=int, help="fall: simulated subjects x 30 min of daily activity (default 6)")
    p.add_argument("--real-images", type=Path, action="append", default=None, metavar="PATH",
                   help="imaging: real DICOM/PNG/JPEG file or directory whose outputs the report shows (repeatable;"
                        " default: pydicom's ultrasound test files and build/real/itk-pocus when fetched)")
    p.set_defaults(func=_eval)


def _learning_rate(text: str) -> float:
    """argparse type: the value checked as training will check it, so a bad one fails before any work."""
    from cloud.train import TrainSettings, overridden

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    try:
        return overridden(TrainSettings(), None, value).learning_rate
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _train(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from cloud.pipeline import train_model

    variants = VARIANTS if args.variant == "both" else (args.variant,)
    train_model(args.model, variants, workdir=args.workdir, profile_kind=args.profile, rebuild_data=args.rebuild_data,
                device=args.device, epochs=args.epochs, learning_rate=args.learning_rate, resume=args.resume,
                augment=args.augment, detection_loss=args.detection_loss)
    return 0


def _export(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from cloud.pipeline import export_model

    meta = export_model(args.model, workdir=args.workdir, out=args.out, version=args.version, variant=args.variant,
                        profile_kind=args.profile, rebuild_data=args.rebuild_data)
    return _floors_exit("export", args.model, failed_export_floors(meta))


def _eval(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from cloud.pipeline import evaluate_model, evaluate_released
    from cloud.real_eval import REAL_EVALUATORS

    report = args.report or Path("build/eval") / args.model
    if args.simulated or args.model not in REAL_EVALUATORS:
        if args.recordings is not None:
            raise SystemExit(f"iomt eval: {args.model} has no real-recording evaluation yet; --recordings needs one")
        real: list[Path] = list(args.real_images or [])
        if args.model == "imaging" and args.real_images is None:
            from firmware_sim.image_files import real_ultrasound_sources

            real = real_ultrasound_sources()
        metrics = evaluate_model(args.model, workdir=args.workdir, models_dir=args.models_dir, report=report,
                                 profile_kind=args.profile, rebuild_data=args.rebuild_data, real_images=real)
        failed = [k for k, v in metrics["checks"].items() if not v["pass"]]
        return _floors_exit("eval", args.model, failed)
    options = {"acc_unit": args.acc_unit, "gyro_unit": args.gyro_unit, "rate_hz": args.rate,
               "placement": args.placement, "per_kind": args.per_kind, "daily_subjects": args.daily_subjects}
    result = evaluate_released(args.model, models_dir=args.models_dir, recordings=args.recordings, report=report,
                               options=options)
    sys.stdout.write(json.dumps({"model": result.model, "passed": result.passed, "floors": dict(result.floors),
                                 "report": str(report)}, indent=1) + "\n")
    return _floors_exit("eval", args.model, result.failed_floors)


def failed_export_floors(meta: Mapping[str, Any]) -> list[str]:
    """The export floors (checks on the held-out test split, the int8 size) that ``meta`` failed."""
    metrics = meta.get("metrics", {})
    failed = [k for k, v in metrics.get("checks", {}).items() if not v["pass"]]
    if metrics.get("size_ratio_pass") is False:
        failed.append("size_ratio_int8_to_float32")
    return failed


def _floors_exit(command: str, model: str, failed: list[str]) -> int:
    """0 when every floor held; else 1, naming the floors that failed on stderr."""
    if not failed:
        return 0
    sys.stderr.write(f"iomt {command} {model}: below floor: {'; '.join(failed)}\n")
    return 1
