"""The cloud pipeline's steps as functions: train, export (int8 .tflite + metadata) and evaluate a
model on its cached dataset (simulated and cached when missing or stale). TensorFlow/Keras are
imported only inside the steps. The command line (``iomt train|export|eval``) lives in the
application (``iomt_app.commands.train``)."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from models.definitions import VARIANTS

log = logging.getLogger(__name__)
_FALL_BUILDER = "cloud.fall_data"


def dataset_for(name: str, profile_kind: str, workdir: Path, rebuild: bool) -> Any:
    """The cached dataset for ``name`` and profile, simulated (and cached) when missing or stale."""
    from cloud import data
    from cloud.profiles import profile

    data_profile, _ = profile(profile_kind, name)
    directory = workdir / name
    builder = _FALL_BUILDER if name == "fall" else None
    if not rebuild and (directory / "data.npz").is_file():
        ds = data.load(name, directory)
        built_with = (ds.card.get("preprocessing") or {}).get("version")
        if (ds.card.get("generation") == data._profile_dict(data_profile) and built_with == data.input_version(name)
                and ds.card.get("builder") == builder):
            return ds
    log.info("building the %s dataset (%s profile)", name, profile_kind)
    if name == "fall":
        from cloud import fall_data

        # real daily activity (fetched for a release; a smoke run takes only what is cached) under
        # random rotations, plus simulated subjects with random mounts and the hard cases
        ds = fall_data.build_with_real(data_profile, fetch=profile_kind == "release")
    else:
        ds = data.build(name, data_profile)
    data.save(ds, directory)
    log.info("%s dataset: %s", name, json.dumps(ds.card["class_counts"]))
    return ds


def train_model(
    model: str,
    variants: Sequence[str],
    *,
    workdir: Path,
    profile_kind: str = "release",
    rebuild_data: bool = False,
    device: str = "auto",
    epochs: int | None = None,
    learning_rate: float | None = None,
    resume: bool = False,
    augment: bool = False,
    detection_loss: bool = False,
) -> list[dict[str, Any]]:
    """Train ``model`` in each of ``variants`` on ``device`` (auto, cpu, gpu) with the profile's data,
    epoch budget and learning rate (``epochs`` and ``learning_rate`` override them); returns each
    variant's training summary. ``resume`` (imaging only) continues from the saved model; ``augment``
    (imaging only) varies the training images as scanners do (:mod:`cloud.imaging.augment`);
    ``detection_loss`` (imaging only) adds an image-level term to the loss."""
    for flag, on in (("--resume", resume), ("--augment", augment), ("--detection-loss", detection_loss)):
        if on and model != "imaging":
            from cloud.device import DeviceError

            raise DeviceError(f"{flag} is implemented for the imaging model only, not {model}")
    from cloud.device import configure

    placement = configure(device)
    log.info("training on %s (Keras backend %s: %s)", placement.device, placement.backend, placement.detail)
    if model == "imaging":
        from cloud.imaging import pipeline as imaging

        return imaging.train(variants, workdir=workdir, profile_kind=profile_kind, rebuild_data=rebuild_data,
                             epochs=epochs, learning_rate=learning_rate, resume=resume, augment=augment,
                             detection_loss=detection_loss)
    from cloud.profiles import profile
    from cloud.train import overridden, train

    ds = dataset_for(model, profile_kind, workdir, rebuild_data)
    settings = overridden(profile(profile_kind, model)[1], epochs, learning_rate)
    summaries = []
    for variant in variants:
        summary = train(model, variant, ds, workdir, settings)
        log.info("%s/%s: %s", model, variant, {k: summary[k] for k in ("epochs_run", "seconds", "parameters")})
        summaries.append(summary)
    return summaries


def export_model(
    model: str,
    *,
    workdir: Path,
    out: Path,
    version: str,
    variant: str = "edge",
    profile_kind: str = "release",
    rebuild_data: bool = False,
) -> dict[str, Any]:
    """Convert the trained ``variant`` of ``model`` to an int8 .tflite with its metadata JSON under
    ``out/<model>/``; returns the metadata."""
    from cloud.device import configure

    configure("cpu")  # conversion needs TensorFlow
    if model == "imaging":
        from cloud.imaging import pipeline as imaging

        return imaging.export(workdir=workdir, out=out, version=version, variant=variant, profile_kind=profile_kind,
                              rebuild_data=rebuild_data)
    from cloud.export import export

    ds = dataset_for(model, profile_kind, workdir, rebuild_data)
    meta = export(model, ds, workdir, out, version=version, variant=variant)
    log.info("metrics: %s", json.dumps(meta["metrics"]["int8"]))
    return meta


def evaluate_released(
    model: str, *, models_dir: Path, recordings: Path | None, report: Path,
    options: Mapping[str, Any] | None = None,
) -> Any:
    """The released ``models_dir/<model>/<model>.tflite`` (nothing else: no trained float model, no
    dataset) on real recordings, through :func:`cloud.real_eval.evaluate_real`; returns its
    :class:`~cloud.real_eval.RealEvalResult`."""
    from cloud.real_eval import evaluate_real
    from models.runtime import released_paths

    tflite, _ = released_paths(model, models_dir)
    if not tflite.is_file():
        raise FileNotFoundError(f"{tflite} not found: no released {model} model in {models_dir}")
    result = evaluate_real(model, tflite, recordings, report, options)
    for name, held in result.floors.items():
        log.info("%-70s %s", name, "ok" if held else "BELOW FLOOR")
    return result


def evaluate_model(
    model: str,
    *,
    workdir: Path,
    models_dir: Path,
    report: Path,
    profile_kind: str = "release",
    rebuild_data: bool = False,
    real_images: Sequence[Path] = (),
) -> dict[str, Any]:
    """Float vs int8 report of ``model`` on the held-out subjects (metrics.json, report.md and plots in
    ``report``), with the full model's figures and the training logs where they exist; returns the metrics.
    ``real_images``: DICOM/PNG/JPEG files the imaging model's report shows its outputs on (no accuracy)."""
    from cloud.device import configure

    configure("cpu")
    if model == "imaging":
        from cloud.imaging import pipeline as imaging

        return imaging.evaluate(workdir=workdir, models_dir=models_dir, report=report, profile_kind=profile_kind,
                                rebuild_data=rebuild_data, real_images=real_images)
    from cloud.export import load_trained
    from cloud.report import evaluate
    from cloud.train import model_path

    ds = dataset_for(model, profile_kind, workdir, rebuild_data)
    extra: dict[str, Any] = {}
    if model_path(workdir, model, "full").is_file():
        from cloud.metrics import classification_metrics

        full = load_trained(workdir, model, "full")
        probs = full.predict(ds.x["test"], verbose=0)
        m = classification_metrics(ds.y["test"], probs, ds.classes)
        extra["full_float"] = {k: m[k] for k in ("accuracy", "sensitivity", "specificity", "macro_f1", "auc")}
    logs = {}
    for variant in VARIANTS:
        f = workdir / model / f"{model}_{variant}_train.json"
        if f.is_file():
            t = json.loads(f.read_text())
            logs[variant] = {k: t.get(k) for k in ("backend", "parameters", "epochs_run", "seconds", "samples_per_s")}
    if logs:
        extra["training"] = logs
    edge_model = load_trained(workdir, model, "edge")
    metrics: dict[str, Any] = evaluate(model, ds, edge_model, models_dir, report, extra)
    if model == "vitals":
        from cloud.vitals_report import news2_agreement
        from models.runtime import ModelRunner

        metrics["news2_agreement"] = news2_agreement(ds, edge_model, ModelRunner.released(model, models_dir), report)
    for key, check in metrics["checks"].items():
        log.info("%-45s %.4f %s", key, check["value"], "ok" if check["pass"] else "BELOW FLOOR")
    return metrics
