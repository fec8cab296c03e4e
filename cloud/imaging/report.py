"""``iomt eval imaging``: float vs int8 segmentation metrics on held-out simulated devices, the finding
rule's ROC, per-stratum figures, and the int8 model's outputs on real ultrasound images (which have no
masks: shown, not scored). Writes metrics.json, report.md and PNG figures."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cloud.export import load_trained
from cloud.imaging import figures
from cloud.imaging.data import ImagingDataset
from cloud.imaging.evaluation import FLOORS, check_floors, roc, score_split, strata, summarize
from cloud.imaging.export import keras_predict
from cloud.train import model_path
from models.preprocessing import imaging as prep
from models.runtime import ModelRunner, released_paths

CAVEAT = (
    "All segmentation figures are measured on **simulated** phantoms from devices held out of training (their"
    " scanner settings were never seen). They show that the model segments what the generator draws and that"
    " int8 kept it; they do **not** show how it does on real patients. The **real** ultrasound images at the end"
    " have no masks: their outputs are shown, and no accuracy is claimed for them."
)


def real_outputs(runner: ModelRunner, paths: Sequence[Path], threshold: float) -> list[dict[str, Any]]:
    """The int8 model's findings on each real image (the edge's code path: same preprocessing and rule)."""
    from cloud.report_paths import shown_path
    from firmware_sim.image_files import load_images

    out = []
    for path in paths:
        for im in load_images(path, max_frames=1):
            x, box = prep.model_input(im.pixels)
            prob = prep.lesion_probability(runner.predict, x[None])[0]
            mask, found = prep.lesions(prob, box, im.spacing_mm, threshold)
            out.append({
                "name": im.name, "file": shown_path(im.source), "shape": list(im.pixels.shape), "modality": im.modality,
                "spacing_mm": list(im.spacing_mm) if im.spacing_mm else None, "lesions": len(found),
                "areas_px": [f.area_px for f in found],
                "areas_mm2": [round(f.area_mm2, 2) if f.area_mm2 is not None else None for f in found],
                "confidences": [round(f.confidence, 3) for f in found],
                "_pixels": im.pixels, "_mask": mask,
            })
    return out


def evaluate(ds: ImagingDataset, workdir: Path, models_dir: Path, report_dir: Path,
             real_images: Sequence[Path] = ()) -> dict[str, Any]:
    report_dir.mkdir(parents=True, exist_ok=True)
    runner = ModelRunner(*released_paths("imaging", models_dir))
    threshold = prep.release_threshold(runner.metadata.decision)
    int8_r = score_split(runner.predict, ds, "test", threshold=threshold)
    q_sum = summarize(int8_r)
    f_sum = _float_summary(ds, workdir, runner, threshold)
    metrics: dict[str, Any] = {
        "model": "imaging", "version": runner.version, "variant": runner.metadata.variant,
        "test_images": len(int8_r.scores), "test_devices": len(ds.card["subjects"]["test"]),
        "dataset_sha256": ds.sha256,
        "float": f_sum, "int8": q_sum, "checks": check_floors(f_sum["headline"], q_sum["headline"]),
        "roc_int8": roc(int8_r), "strata_int8": strata(ds, "test", int8_r),
        "size": {"size_bytes": runner.metadata.size_bytes, "float32_size_bytes": runner.metadata.float32_size_bytes,
                 "parameters": runner.metadata.parameters},
        "finding_rule": {**prep.finding_rule(threshold), "probability": "mean of the image and its mirror"},
    }
    if runner.metadata.decision is not None:
        metrics["decision"] = runner.metadata.decision.model_dump(mode="json")
    vis = ds.card.get("visibility")
    if vis:
        metrics["visibility"] = {k: vis[k] for k in ("min_cnr", "min_radius_model_px", "lesion_cnr")}
    other = "edge" if runner.metadata.variant == "full" else "full"
    if model_path(workdir, "imaging", other).is_file():
        # the variant not released, at the release's threshold (figures beside the release's, not a release)
        other_model = load_trained(workdir, "imaging", other)
        metrics[f"{other}_float"] = summarize(score_split(keras_predict(other_model), ds, "test", threshold=threshold))
    logs = {}
    for variant in ("full", "edge"):
        f = workdir / "imaging" / f"imaging_{variant}_train.json"
        if f.is_file():
            t = json.loads(f.read_text())
            keys = ("backend", "parameters", "epochs_run", "seconds", "samples_per_s", "resumed")
            logs[variant] = {k: t.get(k) for k in keys}
            if t.get("previous_runs"):
                logs[variant]["previous_runs"] = [{k: r.get(k) for k in keys} for r in t["previous_runs"]]
    metrics["training"], metrics["training_source"] = (
        (logs, "the work directory's training logs") if logs else _earlier_training(report_dir, runner.version))
    real = real_outputs(runner, real_images, threshold)
    metrics["real_images"] = [{k: v for k, v in r.items() if not k.startswith("_")} for r in real]
    figures.simulated(report_dir / "simulated_examples.png", ds, "test", int8_r)
    figures.roc_curve(report_dir / "roc.png", metrics["roc_int8"])
    if real:
        figures.real(report_dir / "real_examples.png", real)
    (report_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, default=_plain) + "\n")
    (report_dir / "report.md").write_text(markdown(metrics))
    return metrics


def _earlier_training(report_dir: Path, version: str) -> tuple[dict[str, Any], str]:
    """The training summaries an earlier report of the same version kept in ``report_dir`` (evaluating a
    release again on a fresh clone has no training logs; it should not erase the record of them)."""
    earlier = report_dir / "metrics.json"
    try:
        old = json.loads(earlier.read_text())
    except (OSError, ValueError):
        return {}, "none"
    if old.get("model") != "imaging" or old.get("version") != version or not old.get("training"):
        return {}, "none"
    source = str(old.get("training_source", ""))
    return old["training"], (source if source.startswith("the report of") else
                             f"the report of {version} evaluated earlier with its training logs")


def _float_summary(ds: ImagingDataset, workdir: Path, runner: ModelRunner, threshold: float) -> dict[str, Any]:
    """The float (Keras) model of the released variant scored on the test split now, when it is in the work
    directory; otherwise (a fresh clone: only the released ``.tflite``) the float headline recorded in the
    release's metadata at export, marked as such, so the report still compares int8 with float."""
    variant = runner.metadata.variant
    if model_path(workdir, "imaging", variant).is_file():
        predict = keras_predict(load_trained(workdir, "imaging", variant))
        return {**summarize(score_split(predict, ds, "test", threshold=threshold)), "source": "scored now"}
    recorded = runner.metadata.metrics
    if recorded is None:
        raise FileNotFoundError(f"{model_path(workdir, 'imaging', variant)} not found and the release records no "
                                f"float figures: run `iomt train imaging --variant {variant}` first")
    return {"headline": dict(recorded.float_), "source": "recorded at export"}


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    raise TypeError(f"not JSON: {type(v).__name__}")


def _f(v: Any, pct: bool = False, digits: int = 3) -> str:
    if v is None:
        return "n/a"
    return f"{100 * v:.2f} %" if pct else f"{v:.{digits}f}"


def markdown(m: dict[str, Any]) -> str:
    from cloud.imaging.report_text import render

    return render(m, CAVEAT, FLOORS, _f)
