"""Export the segmentation model: full-integer int8 ``.tflite`` (batch 1) with its metadata JSON, a small
hold-out set and the data card, after choosing the finding threshold on the validation devices
(:func:`cloud.imaging.threshold_study.choose`, recorded as ``decision``) and scoring float and int8 at it
on the test devices."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from pathlib import Path
from typing import Any

import numpy as np

from cloud.export import export_twin, load_trained, release_metadata, write_flatbuffers
from cloud.imaging.card import card_markdown
from cloud.imaging.data import ImagingDataset, class_counts
from cloud.imaging.evaluation import check_floors, score_split, summarize
from cloud.imaging.threshold_study import choose
from models.definitions import spec
from models.metadata import ModelMetadata
from models.runtime import ModelRunner, sha256_file

log = logging.getLogger(__name__)
NAME = "imaging"
REPRESENTATIVE_IMAGES = 300
HOLDOUT_PER_CLASS = 12
OUTPUT_MEANING = "per-pixel class probabilities (softmax), order of classes"


def keras_predict(model: Any) -> Any:
    return lambda x: np.asarray(model.predict(x, batch_size=32, verbose=0))


def holdout(ds: ImagingDataset, per_class: int, seed: int) -> np.ndarray:
    """Indices of a small fixed set of test images, half with a lesion."""
    rng = np.random.default_rng(seed)
    has = ds.masks["test"].reshape(len(ds.masks["test"]), -1).any(axis=1)
    idx = []
    for members in (np.flatnonzero(~has), np.flatnonzero(has)):
        idx.extend(rng.choice(members, size=min(len(members), per_class), replace=False).tolist())
    return np.sort(np.asarray(idx, dtype=np.int64))


def export(ds: ImagingDataset, workdir: Path, out_dir: Path, *, version: str = "1.0.0", variant: str = "edge",
           seed: int = 7) -> dict[str, Any]:
    """Write ``<out_dir>/imaging/imaging.tflite`` + ``.json`` + hold-out + ``DATACARD.md``; return the metadata."""
    model = load_trained(workdir, NAME, variant)
    twin = export_twin(model, NAME, variant)
    x_train = ds.inputs("train")
    probe = x_train[:4]
    if not np.allclose(model(probe, training=False), np.concatenate([twin(p[None], training=False) for p in probe]),
                       atol=1e-4):
        raise RuntimeError("imaging: the batch-1 export twin disagrees with the trained model")
    rng = np.random.default_rng(seed)
    rep = x_train[rng.choice(len(x_train), size=min(REPRESENTATIVE_IMAGES, len(x_train)), replace=False)]
    fb = write_flatbuffers(NAME, twin, rep, workdir, out_dir)
    i8, f32, tflite_path, meta_path = fb.int8, fb.float32, fb.tflite_path, fb.meta_path
    s = spec(NAME)
    meta: dict[str, Any] = {
        **release_metadata(NAME, fb, version=version, variant=variant, parameters=int(model.count_params()),
                           output_meaning=OUTPUT_MEANING),
        "training_data": {
            "sha256": ds.sha256, "source": ds.card["source"], "generation": ds.card["generation"],
            "windows": ds.card["windows"], "class_counts": ds.card["class_counts"], "simulated": True,
        },
        "created_utc": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
    }
    ModelMetadata.from_dict(meta, source=str(meta_path)).write(meta_path)
    (tflite_path.parent / "DATACARD.md").write_text(card_markdown(ds.card))
    runner = ModelRunner(tflite_path, meta_path)
    # the threshold is chosen on the validation devices before any test image is scored
    meta["decision"] = choose(runner.predict, ds)
    threshold = float(meta["decision"]["threshold"])
    float_s = summarize(score_split(keras_predict(model), ds, "test", threshold=threshold))
    int8_s = summarize(score_split(runner.predict, ds, "test", threshold=threshold))
    idx = holdout(ds, HOLDOUT_PER_CLASS, seed)
    hx = np.stack([ds.inputs("test")[i] for i in idx]) if len(idx) else np.zeros((0, *s.input_shape), np.float32)
    hq = runner.input_spec.quantize(hx)
    hy = ds.targets("test")[idx]
    hold_path = tflite_path.with_name(f"{NAME}_holdout.npz")
    np.savez_compressed(hold_path, x_int8=hq, y=hy)
    pred = runner.predict(runner.input_spec.dequantize(hq)).argmax(axis=-1).astype(np.int64)
    meta["metrics"] = {
        "evaluated_on": "held-out simulated devices (test split), scored in each image's own pixels and mm",
        "float": float_s["headline"], "int8": int8_s["headline"],
        "checks": check_floors(float_s["headline"], int8_s["headline"]),
        "size_ratio_pass": len(i8) <= 0.30 * len(f32),
    }
    meta["holdout"] = {
        "file": hold_path.name, "sha256": sha256_file(hold_path), "windows": len(idx),
        "int8_accuracy": float((pred == hy).mean()),
        "int8_predictions_sha256": hashlib.sha256(pred.tobytes()).hexdigest(),
    }
    assert class_counts(ds.masks["test"]) == ds.card["class_counts"]["test"]
    released = ModelMetadata.from_dict(meta, source=str(meta_path))
    released.write(meta_path)
    log.info("exported imaging %s: %d bytes int8 (%.0f%% of float32); int8 %s", version, len(i8),
             100 * len(i8) / len(f32), int8_s["headline"])
    return released.to_dict()
