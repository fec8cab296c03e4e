"""``iomt train|export|eval MODEL``: the cloud pipeline's commands (TensorFlow/Keras imported lazily)."""

from __future__ import annotations

import argparse
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
    p.add_argument("--resume", action="store_true", help="imaging: continue from the saved .keras of the variant")
    p.set_defaults(func=_train)

    p = sub.add_parser("export", parents=[common], help="int8 .tflite + metadata JSON into models/<name>/")
    p.add_argument("--out", type=Path, default=Path("models"), help="directory holding <name>/<name>.tflite")
    p.add_argument("--version", default="1.0.0", help="semantic version written to the metadata")
    p.add_argument("--variant", choices=VARIANTS, default="edge")
    p.set_defaults(func=_export)

    p = sub.add_parser("eval", parents=[common], help="float vs int8 report on the held-out subjects")
    p.add_argument("--report", type=Path, required=True, help="directory for metrics.json, report.md, PNGs")
    p.add_argument("--models-dir", type=Path, default=Path("models"))
    p.add_argument("--real-images", type=Path, action="append", default=None, metavar="PATH",
                   help="imaging: real DICOM/PNG/JPEG file or directory whose outputs the report shows (repeatable;"
                        " default: pydicom's ultrasound test files and build/real/itk-pocus when fetched)")
    p.set_defaults(func=_eval)


def _train(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from cloud.pipeline import train_model

    variants = VARIANTS if args.variant == "both" else (args.variant,)
    train_model(args.model, variants, workdir=args.workdir, profile_kind=args.profile, rebuild_data=args.rebuild_data,
                device=args.device, epochs=args.epochs, resume=args.resume)
    return 0


def _export(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from cloud.pipeline import export_model

    export_model(args.model, workdir=args.workdir, out=args.out, version=args.version, variant=args.variant,
                 profile_kind=args.profile, rebuild_data=args.rebuild_data)
    return 0


def _eval(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from cloud.pipeline import evaluate_model

    real: list[Path] = list(args.real_images or [])
    if args.model == "imaging" and args.real_images is None:
        from firmware_sim.image_files import real_ultrasound_sources

        real = real_ultrasound_sources()
    evaluate_model(args.model, workdir=args.workdir, models_dir=args.models_dir, report=args.report,
                   profile_kind=args.profile, rebuild_data=args.rebuild_data, real_images=real)
    return 0
