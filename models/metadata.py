"""The metadata of a released model (``models/<name>/<name>.json``): the one class that writes and reads it.

A released model is a ``.tflite`` file with this JSON beside it. :class:`ModelMetadata` is its schema
(version :data:`SCHEMA_VERSION`): ``cloud.export`` writes the file with it, ``models.runtime`` reads it
with it, so both sides agree on every field, and nothing the edge loads goes unchecked:

* :meth:`ModelMetadata.load` refuses a file that is not JSON, has another schema version, misses a
  field, has an unknown one, or has a value of the wrong type or range (a hash that is not 64 hex
  digits, a tensor spec whose quantization does not fit its type, classes that disagree with the
  output tensor ...). The :class:`MetadataError` names every bad field.
* :meth:`ModelMetadata.check_compatible` refuses a model built with another version of
  :mod:`models.preprocessing` than the one running here: the same window would be turned into
  different numbers than the model was trained on, and its outputs would be wrong without any error.

numpy and pydantic only: the edge imports this.
"""

from __future__ import annotations

import importlib.util
import json
import os
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic.dataclasses import dataclass

from models.errors import ModelError
from models.preprocessing import PREPROCESSING_VERSION, compatible

#: The version of the metadata layout this release writes and reads.
SCHEMA_VERSION = 1
#: Tensor element types a released model may have at its input and output.
TensorDtype = Literal["int8", "uint8", "int16", "float32"]
TENSOR_DTYPES: tuple[str, ...] = get_args(TensorDtype)
#: What a classifier's output tensor holds (written into ``output.meaning``).
OUTPUT_MEANING = "class probabilities (softmax), order of classes"

_SHA256 = r"^[0-9a-f]{64}$"
_SEMVER = r"^\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.\-]+)?$"
_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"
_STRICT = ConfigDict(extra="forbid", frozen=True, strict=True)

Sha256 = Annotated[str, Field(pattern=_SHA256, description="SHA-256 as 64 lowercase hex digits.")]
Count = Annotated[int, Field(ge=0)]


class MetadataError(ModelError):
    """Model metadata is unreadable, malformed or incompatible with this install.

    ``problems`` lists ``(field, reason)`` for each bad field (dotted path, e.g. ``input.scale``).
    """

    def __init__(self, message: str, problems: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(message)
        self.problems = problems

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.problems)


@dataclass(frozen=True, slots=True, config=ConfigDict(extra="forbid", strict=True))
class TensorSpec:
    """Shape, dtype and affine quantization (real = scale * (q - zero_point)) of one tensor."""

    shape: Annotated[tuple[Annotated[int, Field(ge=1)], ...], Field(min_length=1, description=(
        "Dimensions, batch axis first (released models take one window at a time: batch 1)."))]
    dtype: Annotated[TensorDtype, Field(description="Element type.")]
    scale: Annotated[float, Field(ge=0.0, allow_inf_nan=False, description=(
        "Quantization scale; positive for integer tensors, 0 for float32 (unquantized)."))]
    zero_point: Annotated[int, Field(description="Quantized value that stands for real 0; 0 for float32.")]
    meaning: Annotated[str | None, Field(description="What the values are (documentation; output only).")] = None

    @model_validator(mode="after")
    def _quantization_fits_the_type(self) -> TensorSpec:
        if self.dtype == "float32":
            return self
        info = np.iinfo(np.dtype(self.dtype))
        if not self.scale > 0:
            raise ValueError(f"scale must be positive for a quantized {self.dtype} tensor, got {self.scale}")
        if not info.min <= self.zero_point <= info.max:
            raise ValueError(f"zero_point {self.zero_point} is outside {self.dtype}'s range {info.min}..{info.max}")
        return self

    @model_serializer(mode="wrap")
    def _omit_missing_meaning(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if data.get("meaning") is None:
            data.pop("meaning", None)
        return data

    def to_dict(self) -> dict[str, Any]:
        data = {"shape": list(self.shape), "dtype": self.dtype, "scale": self.scale, "zero_point": self.zero_point}
        return data if self.meaning is None else {**data, "meaning": self.meaning}

    def quantize(self, x: np.ndarray) -> np.ndarray:
        if self.dtype == "float32":
            return np.asarray(x, dtype=np.float32)
        info = np.iinfo(np.dtype(self.dtype))
        q = np.round(np.asarray(x, dtype=np.float64) / self.scale) + self.zero_point
        return np.clip(q, info.min, info.max).astype(self.dtype)

    def dequantize(self, q: np.ndarray) -> np.ndarray:
        if self.dtype == "float32":
            return np.asarray(q, dtype=np.float32)
        return ((np.asarray(q, dtype=np.float32) - self.zero_point) * self.scale).astype(np.float32)


class _Strict(BaseModel):
    model_config = _STRICT


class PreprocessingRef(_Strict):
    """The preprocessing the model's input windows must come from."""

    module: str = Field(pattern=r"^models\.preprocessing\.[a-z_][a-z0-9_]*$",
                        description="Module of models.preprocessing that makes the input windows.")
    version: str = Field(pattern=_SEMVER, description="models.preprocessing.PREPROCESSING_VERSION at export.")


class TrainingData(_Strict):
    """Which data the model was trained on (the data card in short)."""

    sha256: Sha256 = Field(description="Hash of the dataset's windows, labels and generation parameters.")
    source: str = Field(min_length=1, description="Where the windows came from (e.g. firmware_sim.dataset).")
    generation: dict[str, Any] = Field(description="Parameters the dataset was generated with (its profile).")
    windows: dict[str, Count] = Field(description="Windows per split (train, val, test).")
    class_counts: dict[str, dict[str, Count]] = Field(description="Windows per class, per split.")
    simulated: bool = Field(description="True when every training subject was simulated.")


class Check(_Strict):
    """One floor the int8 model was held to at export."""

    value: float = Field(description="The measured value (or int8 minus float, for tolerance checks).")
    passed: bool = Field(alias="pass", description="Whether the floor was met.")


class Metrics(_Strict):
    """The float and int8 models' headline figures at export, on held-out subjects."""

    evaluated_on: str = Field(min_length=1, description="Which data the figures come from.")
    float_: dict[str, float] = Field(alias="float", description="Headline metrics of the float (Keras) model.")
    int8: dict[str, float] = Field(description="Headline metrics of the released int8 model.")
    checks: dict[str, Check] = Field(description="Each floor and whether the int8 model met it.")
    size_ratio_pass: bool = Field(description="Whether the int8 file met the size-ratio floor.")
    fall_like_negative_windows: Count | None = Field(
        None, description="fall only: windows of fall-like activities the specificity was measured on.")


class Holdout(_Strict):
    """A small fixed hold-out set shipped beside the model, to re-check it anywhere."""

    file: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*\.npz$", description="File name, beside the model.")
    sha256: Sha256 = Field(description="SHA-256 of that file.")
    windows: int = Field(ge=1, description="Windows in the set.")
    int8_accuracy: float = Field(ge=0.0, le=1.0, description="Accuracy of the int8 model on it at export.")
    int8_predictions_sha256: Sha256 = Field(description="SHA-256 of the int8 model's predicted classes (int64).")


class Decision(_Strict):
    """The output probability a finding needs, chosen for this release on its validation data (never on the
    data its test figures come from), so the rule travels with the weights it was chosen for."""

    threshold: float = Field(gt=0.0, lt=1.0, description="A finding needs at least this probability.")
    chosen_on: str = Field(min_length=1, description="Which data and which criterion chose it.")
    candidates: tuple[dict[str, float], ...] = Field(
        (), description="The thresholds tried and their figures on that data (each row: threshold and figures).")


class ModelMetadata(_Strict):
    """Everything about a released model that is not its weights: identity, file, tensors, preprocessing,
    training data and the figures it was released with."""

    schema_version: int = Field(alias="schema", description=f"Layout version of this file ({SCHEMA_VERSION}).")
    name: str = Field(pattern=_NAME, description="Model name; the files are <name>/<name>.tflite and .json.")
    version: str = Field(pattern=_SEMVER, description="Semantic version of this release of the model.")
    variant: Literal["full", "edge"] = Field(description="Definition variant trained (models.definitions.VARIANTS).")
    description: str = Field(min_length=1, description="What the model takes and tells.")
    file: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*\.tflite$", description="The model file's name.")
    sha256: Sha256 = Field(description="SHA-256 of the model file; a file that does not match is refused.")
    size_bytes: int = Field(gt=0, description="Size of the int8 model file.")
    float32_size_bytes: int = Field(gt=0, description="Size of the float32 conversion of the same model.")
    size_ratio_int8_to_float32: float = Field(gt=0, description="size_bytes / float32_size_bytes, 4 decimals.")
    parameters: int = Field(gt=0, description="Trainable and other parameters of the model.")
    classes: tuple[str, ...] = Field(min_length=2, description="Class labels, in the order of the output values.")
    input: TensorSpec = Field(description="The input tensor; the file's must match it.")
    output: TensorSpec = Field(description="The output tensor; the file's must match it.")
    preprocessing: PreprocessingRef = Field(description="The preprocessing the model was trained behind.")
    training_data: TrainingData = Field(description="The data the model was trained on.")
    created_utc: str = Field(description="When it was exported, ISO 8601 with a UTC offset.")
    metrics: Metrics | None = Field(None, description="Figures at export (absent only while exporting).")
    holdout: Holdout | None = Field(None, description="The small hold-out set shipped beside the model.")
    decision: Decision | None = Field(
        None, description="imaging: the finding threshold chosen for this release (absent: the preprocessing "
        "module's default).")

    @field_validator("schema_version")
    @classmethod
    def _known_schema(cls, value: int) -> int:
        if value != SCHEMA_VERSION:
            raise ValueError(_schema_advice(value))
        return value

    @field_validator("created_utc")
    @classmethod
    def _iso_utc(cls, value: str) -> str:
        try:
            stamp = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO 8601 time") from None
        if stamp.utcoffset() is None:
            raise ValueError(f"{value!r} has no UTC offset")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ModelMetadata:
        problems = []
        if self.file != f"{self.name}.tflite":
            problems.append(f"file: {self.file!r} must be {self.name}.tflite (models/<name>/<name>.tflite)")
        if len(set(self.classes)) != len(self.classes):
            problems.append(f"classes: {list(self.classes)} has a repeated label")
        if self.output.shape[-1] != len(self.classes):
            problems.append(f"classes: {len(self.classes)} classes but the output tensor has {self.output.shape[-1]}"
                            " values")
        for split, counts in self.training_data.class_counts.items():
            if set(counts) != set(self.classes):
                problems.append(f"training_data.class_counts.{split}: classes {sorted(counts)} are not the model's "
                                f"{sorted(self.classes)}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    # -- reading -------------------------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path) -> ModelMetadata:
        """Read and validate ``path``; raise :class:`MetadataError` saying what is wrong and what to do."""
        path = Path(path)
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise MetadataError(f"cannot read model metadata {path}: {exc}") from exc
        return cls.from_json(text, source=str(path))

    @classmethod
    def from_json(cls, text: str | bytes, *, source: str = "model metadata") -> ModelMetadata:
        """Validate the JSON text of a metadata file (``source`` names it in errors)."""
        try:
            data = json.loads(text)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise MetadataError(f"model metadata {source} is not valid JSON ({exc}): restore the file or re-export"
                                " the model", (("json", str(exc)),)) from None
        if isinstance(data, dict) and isinstance(data.get("schema"), int) and data["schema"] != SCHEMA_VERSION:
            # Said first and alone: another schema's fields would only add noise to the message.
            raise MetadataError(f"model metadata {source}: {_schema_advice(data['schema'])}",
                                (("schema", _schema_advice(data["schema"])),))
        try:
            return cls.model_validate_json(text)
        except ValidationError as exc:
            problems = tuple(p for error in exc.errors() for p in _problems(error))
            listed = "; ".join(f"{name}: {reason}" for name, reason in problems)
            raise MetadataError(f"model metadata {source} is malformed (schema {SCHEMA_VERSION}): {listed}; fix the"
                                " file or re-export the model", problems) from None

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "model metadata") -> ModelMetadata:
        """Validate a metadata dict exactly as a file with its JSON would be (what is written is what is read)."""
        try:
            text = json.dumps(data, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise MetadataError(f"model metadata {source} cannot be written as JSON: {exc}") from None
        return cls.from_json(text, source=source)

    # -- writing -------------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: keys as in the file, in schema order; optional parts only when present."""
        data: dict[str, Any] = self.model_dump(mode="json", by_alias=True, exclude_unset=True)
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"

    def write(self, path: Path) -> None:
        """Write ``path`` atomically (an edge polling the directory never reads half a file)."""
        path = Path(path)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(self.to_json())
        os.replace(tmp, path)

    # -- compatibility -------------------------------------------------------------------------------

    def check_compatible(self, preprocessing_version: str | None = None) -> None:
        """Refuse a model whose preprocessing this install does not run (raise :class:`MetadataError`).

        Versions are semantic (see :data:`models.preprocessing.PREPROCESSING_VERSION`): another major
        makes different inputs from the ones the model was trained on and is refused; a minor one keeps
        them. The running majors are those the model's preprocessing module declares it makes
        (``RUNS_MAJORS``), else the package's; ``preprocessing_version`` overrides them (to check a
        model against another install).
        """
        ref = self.preprocessing
        who = f"model {self.name} {self.version}"
        if importlib.util.find_spec(ref.module) is None:
            reason = (f"{who} needs preprocessing module {ref.module}, which this edge does not have: install the"
                      " edge release the model was exported for, or re-export it with this release")
            raise MetadataError(reason, (("preprocessing.module", reason),))
        if preprocessing_version is not None:
            runs, running = (preprocessing_version.split(".")[0],), f"models.preprocessing {preprocessing_version}"
        else:
            runs = tuple(getattr(importlib.import_module(ref.module), "RUNS_MAJORS", ()))
            if not runs:
                runs = (PREPROCESSING_VERSION.split(".")[0],)
            running = f"{ref.module} input version {' or '.join(f'{m}.x' for m in runs)}"
        if not any(compatible(ref.version, f"{major}.0.0") for major in runs):
            reason = (f"{who} was built for {ref.module} {ref.version} but this edge runs {running}: re-export"
                      f" the model with this release (iomt export {self.name}) or install the edge release whose"
                      f" preprocessing is {ref.version}")
            raise MetadataError(reason, (("preprocessing.version", reason),))


def _schema_advice(found: int) -> str:
    if found > SCHEMA_VERSION:
        return (f"schema version {found} is newer than this release reads ({SCHEMA_VERSION}): install the release"
                " that exported it, or re-export the model with this one")
    return (f"schema version {found} is not the one this release reads ({SCHEMA_VERSION}): re-export the model"
            " with this release")


def _problems(error: Any) -> list[tuple[str, str]]:
    """``(field, reason)`` pairs of one pydantic error; a cross-field error names its fields itself."""
    name = ".".join(str(part) for part in error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    if not name:
        pairs = [part.partition(": ") for part in message.split("; ")]
        return [(field, reason) if sep else ("metadata", field) for field, sep, reason in pairs]
    if error["type"] == "missing":
        message = "missing"
    elif error["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
        message = f"unknown field (not in schema {SCHEMA_VERSION})"
    elif error["type"] == "string_pattern_mismatch" and name.endswith("sha256"):
        message = f"{error['input']!r} is not a SHA-256 (64 lowercase hex digits)"
    elif error["type"] == "string_pattern_mismatch" and name.endswith("version"):
        message = f"{error['input']!r} is not a semantic version (MAJOR.MINOR.PATCH)"
    return [(name, message)]
