"""``iomt train|export|eval MODEL``: the cloud pipeline's commands (TensorFlow/Keras imported lazily)."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

from models.definitions import MODEL_NAMES, VARIANTS

log = logging.getLogger(__name__)
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
    p.set_defaults(func=_train)

    p = sub.add_parser("export", parents=[common], help="int8 .tflite + metadata JSON into models/<name>/")
    p.add_argument("--out", type=Path, default=Path("models"), help="directory holding <name>/<name>.tflite")
    p.add_argument("--version", default="1.0.0", help="semantic version written to the metadata")
    p.add_argument("--variant", choices=VARIANTS, default="edge")
    p.set_defaults(func=_export)

    p = sub.add_parser("eval", parents=[common], help="float vs int8 report on the held-out subjects")
    p.add_argument("--report", type=Path, required=True, help="directory for metrics.json, report.md, PNGs")
    p.add_argument("--models-dir", type=Path, default=Path("models"))
    p.set_defaults(func=_eval)


def dataset_for(name: str, profile_kind: str, workdir: Path, rebuild: bool) -> Any:
    """The cached dataset for ``name`` and profile, simulated (and cached) when missing or stale."""
    from cloud import data
    from cloud.profiles import profile

    data_profile, _ = profile(profile_kind, name)
    directory = workdir / name
    if not rebuild and (directory / "data.npz").is_file():
        ds = data.load(name, directory)
        if ds.card.get("generation") == data._profile_dict(data_profile):
            return ds
    log.info("simulating the %s dataset (%s profile)", name, profile_kind)
    ds = data.build(name, data_profile)
    data.save(ds, directory)
    log.info("%s dataset: %s", name, json.dumps(ds.card["class_counts"]))
    return ds


def _train(args: argparse.Namespace) -> int:
    from cloud.device import configure

    placement = configure(args.device)
    log.info("training on %s (Keras backend %s: %s)", placement.device, placement.backend, placement.detail)
    from dataclasses import replace

    from cloud.profiles import profile
    from cloud.train import train

    ds = dataset_for(args.model, args.profile, args.workdir, args.rebuild_data)
    _, settings = profile(args.profile, args.model)
    if args.epochs:
        settings = replace(settings, epochs=args.epochs)
    for variant in VARIANTS if args.variant == "both" else (args.variant,):
        summary = train(args.model, variant, ds, args.workdir, settings)
        log.info("%s/%s: %s", args.model, variant, {k: summary[k] for k in ("epochs_run", "seconds", "parameters")})
    return 0


def _export(args: argparse.Namespace) -> int:
    from cloud.device import configure

    configure("cpu")  # conversion needs TensorFlow
    from cloud.export import export

    ds = dataset_for(args.model, args.profile, args.workdir, args.rebuild_data)
    meta = export(args.model, ds, args.workdir, args.out, version=args.version, variant=args.variant)
    log.info("metrics: %s", json.dumps(meta["metrics"]["int8"]))
    return 0


def _eval(args: argparse.Namespace) -> int:
    from cloud.device import configure

    configure("cpu")
    from cloud.export import load_trained
    from cloud.report import evaluate
    from cloud.train import model_path

    ds = dataset_for(args.model, args.profile, args.workdir, args.rebuild_data)
    extra: dict[str, Any] = {}
    if model_path(args.workdir, args.model, "full").is_file():
        from cloud.metrics import classification_metrics

        full = load_trained(args.workdir, args.model, "full")
        probs = full.predict(ds.x["test"], verbose=0)
        m = classification_metrics(ds.y["test"], probs, ds.classes)
        extra["full_float"] = {k: m[k] for k in ("accuracy", "sensitivity", "specificity", "macro_f1", "auc")}
    logs = {}
    for variant in VARIANTS:
        f = args.workdir / args.model / f"{args.model}_{variant}_train.json"
        if f.is_file():
            t = json.loads(f.read_text())
            logs[variant] = {k: t.get(k) for k in ("backend", "parameters", "epochs_run", "seconds", "samples_per_s")}
    if logs:
        extra["training"] = logs
    metrics = evaluate(
        args.model, ds, load_trained(args.workdir, args.model, "edge"), args.models_dir, args.report, extra
    )
    for key, check in metrics["checks"].items():
        log.info("%-45s %.4f %s", key, check["value"], "ok" if check["pass"] else "BELOW FLOOR")
    return 0
