"""Export a trained model to full-integer int8 ``.tflite`` with its metadata JSON, for the edge.

LSTMs convert only as a static batch-1 twin with unrolled recurrences (the dynamic-batch model
fails with TensorList ops and the int8 calibrator segfaults on it), so every model is exported
through :func:`models.definitions.build` ``(export_twin=True)`` with the trained weights copied in.
Tensor names are stripped from both the int8 and the float32 flatbuffer (the metadata describes
the tensors), which keeps the many small tensors of an unrolled LSTM from dominating the file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cloud.data import Dataset, card_markdown
from cloud.metrics import SIZE_RATIO_FLOOR, check_floors, classification_metrics, fall_like_specificity, headline
from cloud.train import model_path
from models.definitions import build, spec
from models.metadata import OUTPUT_MEANING, SCHEMA_VERSION, ModelMetadata
from models.runtime import ModelRunner, read_tensor_specs, released_paths, sha256_file

log = logging.getLogger(__name__)

REPRESENTATIVE_SAMPLES = 1000
HOLDOUT_PER_CLASS = 40


def load_trained(workdir: Path, name: str, variant: str) -> Any:
    """The trained ``.keras`` model of ``name``/``variant``; its definition module is imported first, so any
    custom object it registers (the imaging model's loss) is known to the loader."""
    import keras

    importlib.import_module(f"models.definitions.{name}")
    path = model_path(workdir, name, variant)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run `iomt train {name} --variant {variant}` first")
    return keras.saving.load_model(path)


def export_twin(model: Any, name: str, variant: str) -> Any:
    """Batch-1 unrolled copy of ``model`` with its weights."""
    twin = build(name, variant, export_twin=True)
    twin.set_weights(model.get_weights())
    return twin


def representative(x: np.ndarray, y: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Up to ``n`` training windows for int8 calibration, in the classes' natural proportions (rare
    classes topped up to 1 %): calibrating on as many falls as normal windows stretched the
    activation ranges and cost the int8 model its resolution on everyday movement."""
    rng = np.random.default_rng(seed)
    idx = set(rng.choice(len(y), size=min(n, len(y)), replace=False).tolist())
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        idx.update(rng.choice(members, size=min(len(members), max(1, n // 100)), replace=False).tolist())
    return x[np.sort(np.fromiter(idx, dtype=np.int64))]


def _strip(flatbuffer: bytes) -> bytes:
    from tensorflow.lite.tools import flatbuffer_utils

    obj = flatbuffer_utils.convert_bytearray_to_object(bytearray(flatbuffer))
    flatbuffer_utils.strip_strings(obj)
    return bytes(flatbuffer_utils.convert_object_to_bytearray(obj))


def convert(twin: Any, rep: np.ndarray | None) -> bytes:
    """float32 flatbuffer when ``rep`` is None, else full-integer int8 (int8 input and output)."""
    import tensorflow as tf

    conv = tf.lite.TFLiteConverter.from_keras_model(twin)
    if rep is not None:
        samples = np.asarray(rep, dtype=np.float32)
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = lambda: ([s[None]] for s in samples)
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
        # Per-tensor scales: per-channel ones add an int64 zero point per channel to every weight
        # tensor, which for these small models costs more file than the 4x from int8 saves.
        conv._experimental_disable_per_channel = True
    return _strip(conv.convert())


@dataclass(frozen=True, slots=True)
class Flatbuffers:
    """A converted model as written: the int8 release at ``tflite_path`` (its metadata goes to
    ``meta_path``) and the float32 flatbuffer in the work directory, for the size comparison."""

    int8: bytes
    float32: bytes
    tflite_path: Path
    meta_path: Path


def write_flatbuffers(name: str, twin: Any, rep: np.ndarray, workdir: Path, out_dir: Path) -> Flatbuffers:
    """Convert the export twin to float32 and, calibrated on ``rep``, to int8; write both."""
    f32, i8 = convert(twin, None), convert(twin, rep)
    tflite_path, meta_path = released_paths(name, out_dir)
    tflite_path.parent.mkdir(parents=True, exist_ok=True)
    tflite_path.write_bytes(i8)
    (workdir / name).mkdir(parents=True, exist_ok=True)
    (workdir / name / f"{name}_float32.tflite").write_bytes(f32)
    return Flatbuffers(i8, f32, tflite_path, meta_path)


def release_metadata(name: str, fb: Flatbuffers, *, version: str, variant: str, parameters: int,
                     output_meaning: str = OUTPUT_MEANING) -> dict[str, Any]:
    """The metadata every released model starts with: identity, file, sizes, tensors, preprocessing
    (the exporter adds what it trained on and how it scored)."""
    in_spec, out_spec = read_tensor_specs(fb.int8)
    s = spec(name)
    return {
        "schema": SCHEMA_VERSION,
        "name": name,
        "version": version,
        "variant": variant,
        "description": s.description,
        "file": fb.tflite_path.name,
        "sha256": sha256_file(fb.tflite_path),
        "size_bytes": len(fb.int8),
        "float32_size_bytes": len(fb.float32),
        "size_ratio_int8_to_float32": round(len(fb.int8) / len(fb.float32), 4),
        "parameters": parameters,
        "classes": list(s.classes),
        "input": in_spec.to_dict(),
        "output": {**out_spec.to_dict(), "meaning": output_meaning},
        "preprocessing": {"module": s.preprocessing, "version": s.preprocessing_version},
    }


def holdout(ds: Dataset, per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A small fixed, class-stratified subset of the test subjects' windows."""
    rng = np.random.default_rng(seed)
    x, y = ds.x["test"], ds.y["test"]
    idx: list[int] = []
    for c in range(len(ds.classes)):
        members = np.flatnonzero(y == c)
        idx.extend(rng.choice(members, size=min(len(members), per_class), replace=False).tolist())
    sel = np.sort(np.asarray(idx, dtype=np.int64))
    return x[sel], y[sel]


def export(
    name: str,
    ds: Dataset,
    workdir: Path,
    out_dir: Path,
    *,
    version: str = "1.0.0",
    variant: str = "edge",
    seed: int = 7,
) -> dict[str, Any]:
    """Write ``<out_dir>/<name>/<name>.tflite`` + ``.json`` (+ a small hold-out set); return the metadata.

    The JSON is written through :class:`models.metadata.ModelMetadata`, which validates it exactly as
    the edge will when it loads the model.
    """
    model = load_trained(workdir, name, variant)
    twin = export_twin(model, name, variant)
    probe = ds.x["test"][:8] if len(ds.x["test"]) else ds.x["train"][:8]
    for row in probe:
        a = np.asarray(model(row[None], training=False))
        b = np.asarray(twin(row[None], training=False))
        if not np.allclose(a, b, atol=1e-4):
            raise RuntimeError(f"{name}: export twin disagrees with the trained model ({a} vs {b})")
    fb = write_flatbuffers(name, twin, representative(ds.x["train"], ds.y["train"], REPRESENTATIVE_SAMPLES, seed),
                           workdir, out_dir)
    i8, f32, tflite_path, meta_path = fb.int8, fb.float32, fb.tflite_path, fb.meta_path
    s = spec(name)
    meta: dict[str, Any] = {
        **release_metadata(name, fb, version=version, variant=variant, parameters=int(model.count_params())),
        "training_data": {
            "sha256": ds.sha256,
            "source": ds.card.get("source"),
            "generation": ds.card.get("generation"),
            "windows": ds.card.get("windows"),
            "class_counts": ds.card.get("class_counts"),
            # False once real recordings joined the training data (the dataset card says which)
            "simulated": not bool((ds.card.get("real_data") or {}).get("used")),
        },
        "created_utc": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
    }
    ModelMetadata.from_dict(meta, source=str(meta_path)).write(meta_path)
    (tflite_path.parent / "DATACARD.md").write_text(card_markdown(ds.card))
    runner = ModelRunner(tflite_path, meta_path)
    float_m = classification_metrics(ds.y["test"], np.asarray(model.predict(ds.x["test"], verbose=0)), s.classes)
    int8_m = classification_metrics(ds.y["test"], runner.predict(ds.x["test"]), s.classes)
    hx, hy = holdout(ds, HOLDOUT_PER_CLASS, seed)
    hq = runner.input_spec.quantize(hx)
    hold_path = tflite_path.with_name(f"{name}_holdout.npz")
    np.savez_compressed(hold_path, x_int8=hq, y=hy)
    h_probs = runner.predict(runner.input_spec.dequantize(hq))
    h_m = classification_metrics(hy, h_probs, s.classes)
    meta["metrics"] = {
        "evaluated_on": "held-out simulated subjects (test split)",
        "float": headline(name, float_m),
        "int8": headline(name, int8_m),
        "checks": check_floors(name, float_m, int8_m),
        "size_ratio_pass": len(i8) <= SIZE_RATIO_FLOOR * len(f32),
    }
    if name == "fall" and "test" in ds.tags:
        fl = fall_like_specificity(ds.y["test"], runner.predict(ds.x["test"]), ds.tags["test"])
        meta["metrics"]["int8"]["fall_like_specificity"] = fl["specificity"]
        meta["metrics"]["fall_like_negative_windows"] = fl["windows"]
        rl = fall_like_specificity(ds.y["test"], runner.predict(ds.x["test"]), ds.tags["test"], real=True)
        meta["metrics"]["int8"]["real_smartwatch_specificity"] = rl["specificity"]
    meta["holdout"] = {
        "file": hold_path.name,
        "sha256": sha256_file(hold_path),
        "windows": len(hy),
        "int8_accuracy": h_m["accuracy"],
        "int8_predictions_sha256": hashlib.sha256(h_probs.argmax(axis=1).astype(np.int64).tobytes()).hexdigest(),
    }
    released = ModelMetadata.from_dict(meta, source=str(meta_path))
    released.write(meta_path)
    log.info("exported %s %s: %d bytes int8 (%.0f%% of float32)", name, version, len(i8), 100 * len(i8) / len(f32))
    return released.to_dict()
