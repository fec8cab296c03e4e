"""Run a released int8 model with LiteRT: the one module that imports the TFLite interpreter.

numpy and LiteRT only (``ai_edge_litert``, falling back to ``tflite_runtime``): the edge imports
this, so it must never pull TensorFlow or Keras. A model is a ``.tflite`` file with a metadata JSON
beside it (``models/<name>/<name>.json``, schema in :mod:`models.metadata`); :class:`ModelRunner`
refuses metadata that is malformed, of another schema or built for another preprocessing version, and a
file whose sha256, input or output spec does not match its metadata, so a corrupt, swapped or
mismatched model never runs silently.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from models.errors import ModelError
from models.metadata import MetadataError, ModelMetadata, TensorSpec

__all__ = [
    "RELEASED_DIR",
    "MetadataError",
    "ModelError",
    "ModelMetadata",
    "ModelRunner",
    "TensorSpec",
    "interpreter_class",
    "read_tensor_specs",
    "released_paths",
    "sha256_file",
    "tensor_spec",
]

#: Where released models live: ``models/<name>/<name>.tflite`` + ``models/<name>/<name>.json``.
RELEASED_DIR = Path(__file__).resolve().parent


def interpreter_class() -> Any:
    """LiteRT's interpreter, or the older ``tflite_runtime`` one on boards without LiteRT wheels."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter
        except ImportError as exc:
            raise ModelError("no TFLite interpreter: install ai-edge-litert (or tflite-runtime)") from exc
    return Interpreter


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


def released_paths(name: str, models_dir: Path = RELEASED_DIR) -> tuple[Path, Path]:
    """``(tflite, json)`` paths of a released model."""
    return models_dir / name / f"{name}.tflite", models_dir / name / f"{name}.json"


def tensor_spec(detail: dict[str, Any]) -> TensorSpec:
    """The spec of one tensor as the interpreter reports it (``get_input_details()[i]``)."""
    scale, zero_point = detail.get("quantization", (0.0, 0))
    dtype = np.dtype(detail["dtype"]).name
    try:
        return TensorSpec(tuple(int(v) for v in detail["shape"]), dtype, float(scale), int(zero_point))
    except ValidationError as exc:
        raise ModelError(f"tensor {detail.get('name', '')!r} ({dtype}, shape {list(detail['shape'])}) is not one"
                         f" a released model may have: {exc.errors()[0]['msg']}") from None


def read_tensor_specs(model: bytes) -> tuple[TensorSpec, TensorSpec]:
    """``(input, output)`` specs of a single-input, single-output model held in memory (e.g. just converted)."""
    try:
        interp = interpreter_class()(model_content=model)
    except (ValueError, RuntimeError) as exc:
        raise ModelError(f"LiteRT cannot load the model: {exc}") from exc
    ins, outs = interp.get_input_details(), interp.get_output_details()
    if len(ins) != 1 or len(outs) != 1:
        raise ModelError(f"expected one input and one output, got {len(ins)} and {len(outs)}")
    return tensor_spec(ins[0]), tensor_spec(outs[0])


def _same(a: TensorSpec, b: TensorSpec) -> bool:
    return (
        a.shape == b.shape
        and a.dtype == b.dtype
        and a.zero_point == b.zero_point
        and bool(np.isclose(a.scale, b.scale, rtol=1e-6, atol=0.0))
    )


class ModelRunner:
    """One loaded int8 model: verify, quantize, invoke one window at a time, dequantize.

    ``predict(x)`` takes float windows shaped like the model input without the batch axis (a
    batch of them, first axis) and returns dequantized outputs (class probabilities), one row each.
    """

    def __init__(
        self,
        tflite_path: Path,
        metadata_path: Path | None = None,
        *,
        num_threads: int = 1,
        preprocessing_version: str | None = None,
    ) -> None:
        """Load and verify a model; ``preprocessing_version`` overrides the running preprocessing's (tests)."""
        self.path = Path(tflite_path)
        meta_path = Path(metadata_path) if metadata_path is not None else self.path.with_suffix(".json")
        self.metadata = ModelMetadata.load(meta_path)
        self.metadata.check_compatible(preprocessing_version)
        if not self.path.is_file():
            raise ModelError(f"model file {self.path} does not exist")
        digest = sha256_file(self.path)
        if digest != self.metadata.sha256:
            raise ModelError(
                f"{self.path.name}: sha256 {digest[:16]}… does not match its metadata ({self.metadata.sha256[:16]}…);"
                " the file is corrupt or belongs to another model version"
            )
        try:
            self._interp = interpreter_class()(model_path=str(self.path), num_threads=num_threads)
            self._interp.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"{self.path.name}: LiteRT cannot load it: {exc}") from exc
        ins, outs = self._interp.get_input_details(), self._interp.get_output_details()
        if len(ins) != 1 or len(outs) != 1:
            raise ModelError(f"{self.path.name}: expected one input and one output, got {len(ins)} and {len(outs)}")
        self._in_index, self._out_index = int(ins[0]["index"]), int(outs[0]["index"])
        try:
            self.input_spec, self.output_spec = tensor_spec(ins[0]), tensor_spec(outs[0])
        except ModelError as exc:
            raise ModelError(f"{self.path.name}: {exc}") from None
        for what, actual, declared in (
            ("input", self.input_spec, self.metadata.input),
            ("output", self.output_spec, self.metadata.output),
        ):
            if not _same(actual, declared):
                raise ModelError(
                    f"{self.path.name}: {what} tensor {actual.to_dict()} does not match"
                    f" its metadata {declared.to_dict()}"
                )
        if self.output_spec.shape[-1] != len(self.metadata.classes):
            raise ModelError(
                f"{self.path.name}: {self.output_spec.shape[-1]} outputs but {len(self.metadata.classes)} classes"
            )

    @classmethod
    def released(cls, name: str, models_dir: Path = RELEASED_DIR, *, num_threads: int = 1) -> ModelRunner:
        tflite, meta = released_paths(name, models_dir)
        return cls(tflite, meta, num_threads=num_threads)

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def version(self) -> str:
        return self.metadata.version

    @property
    def classes(self) -> tuple[str, ...]:
        return self.metadata.classes

    @property
    def window_shape(self) -> tuple[int, ...]:
        """The shape of one input window (the model input without its batch axis)."""
        return self.input_spec.shape[1:]

    def predict(self, windows: np.ndarray) -> np.ndarray:
        """Class probabilities for a batch of float windows, shape ``(n, len(classes))`` (a segmentation
        model's per-pixel probabilities: ``(n, height, width, len(classes))``)."""
        x = np.asarray(windows, dtype=np.float32)
        if x.shape == self.window_shape:
            x = x[None]
        if x.shape[1:] != self.window_shape:
            raise ModelError(f"{self.name}: windows of shape {x.shape[1:]} given, the model takes {self.window_shape}")
        if not np.all(np.isfinite(x)):
            raise ModelError(f"{self.name}: windows contain NaN or infinity")
        out = np.empty((x.shape[0], *self.output_spec.shape[1:]), dtype=np.float32)
        q = self.input_spec.quantize(x)
        for i in range(x.shape[0]):
            self._interp.set_tensor(self._in_index, q[i : i + 1])
            self._interp.invoke()
            out[i] = self.output_spec.dequantize(self._interp.get_tensor(self._out_index))[0]
        return out

    def classify(self, windows: np.ndarray) -> list[tuple[str, float]]:
        """``(label, probability)`` of the most likely class for each window."""
        probs = self.predict(windows)
        best = probs.argmax(axis=1)
        return [(self.classes[int(i)], float(probs[k, i])) for k, i in enumerate(best)]
