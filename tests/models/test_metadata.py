"""models.metadata: the one writer and reader of a released model's JSON. Valid metadata round-trips byte for
byte; each kind of bad metadata is refused with a message that names the field and says what to do."""

from __future__ import annotations

import copy
import importlib
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from models.definitions import VARIANTS, spec
from models.errors import ModelError
from models.metadata import SCHEMA_VERSION, MetadataError, ModelMetadata, TensorSpec
from models.preprocessing import PREPROCESSING_VERSION, compatible
from models.runtime import released_paths

NAMES = ("fall", "ecg", "emotion", "vitals")


def released(name: str = "ecg") -> dict[str, Any]:
    data: dict[str, Any] = json.loads(released_paths(name)[1].read_text())
    return data


def refusal(data: dict[str, Any]) -> MetadataError:
    with pytest.raises(MetadataError) as info:
        ModelMetadata.from_json(json.dumps(data), source="ecg.json")
    return info.value


@pytest.mark.parametrize("name", NAMES)
def test_released_metadata_round_trips_byte_for_byte(name: str, tmp_path: Path) -> None:
    path = released_paths(name)[1]
    meta = ModelMetadata.load(path)
    assert meta.name == name and meta.schema_version == SCHEMA_VERSION
    runs = getattr(importlib.import_module(meta.preprocessing.module), "RUNS_MAJORS", (PREPROCESSING_VERSION[0],))
    assert any(compatible(meta.preprocessing.version, f"{major}.0.0") for major in runs)  # its module makes it
    if name == "fall":  # the released fall model reads exactly the input its definition does
        assert meta.preprocessing.version == spec(name).preprocessing_version
    assert meta.metrics is not None and meta.holdout is not None
    assert meta.to_json() == path.read_text()  # the writer reproduces the released file exactly
    assert ModelMetadata.from_dict(meta.to_dict()) == meta
    meta.write(tmp_path / f"{name}.json")
    assert ModelMetadata.load(tmp_path / f"{name}.json") == meta
    assert [p.name for p in tmp_path.iterdir()] == [f"{name}.json"]  # no temporary file left behind
    meta.check_compatible()


def test_metadata_without_the_export_figures_is_valid_and_written_without_them() -> None:
    data = released()
    del data["metrics"], data["holdout"]
    meta = ModelMetadata.from_dict(data)
    assert meta.metrics is None and "metrics" not in meta.to_dict() and "holdout" not in meta.to_json()
    assert meta.to_dict() == data


def test_typed_fields_read_back() -> None:
    meta = ModelMetadata.from_dict(released("fall"))
    assert meta.classes == ("no_fall", "fall")
    assert meta.input == TensorSpec((1, 100, 6), "int8", 0.041059594601392746, -68)
    assert meta.output.meaning is not None and meta.output.shape == (1, 2)
    assert meta.metrics is not None and meta.metrics.checks["sensitivity >= 0.95"].passed
    assert meta.metrics.float_["sensitivity"] == 1.0 and meta.metrics.fall_like_negative_windows == 1877
    assert meta.training_data.class_counts["test"]["fall"] == 294 and not meta.training_data.simulated


def test_the_schema_literals_agree_with_the_definitions() -> None:
    data = released()
    for variant in VARIANTS:
        assert ModelMetadata.from_dict({**data, "variant": variant}).variant == variant
    assert refusal({**data, "variant": "tiny"}).fields == ("variant",)


@pytest.mark.parametrize("field", ["schema", "name", "version", "sha256", "classes", "input", "preprocessing",
                                   "training_data", "created_utc"])
def test_a_missing_field_is_refused_by_name(field: str) -> None:
    data = released()
    del data[field]
    error = refusal(data)
    assert field in error.fields and f"{field}: missing" in str(error)
    assert "malformed" in str(error) and "re-export" in str(error)


@pytest.mark.parametrize(("path", "field"), [(("preprocessing", "version"), "preprocessing.version"),
                                             (("input", "zero_point"), "input.zero_point"),
                                             (("holdout", "sha256"), "holdout.sha256")])
def test_a_missing_nested_field_is_refused_by_its_path(path: tuple[str, str], field: str) -> None:
    data = released()
    del data[path[0]][path[1]]
    assert refusal(data).fields == (field,)


def test_an_unknown_field_is_refused() -> None:
    error = refusal({**released(), "calibration": "none"})
    assert error.fields == ("calibration",) and "unknown field" in str(error)


@pytest.mark.parametrize(("schema", "advice"), [(2, "newer than this release reads"), (0, "re-export the model")])
def test_another_schema_version_is_refused_with_advice(schema: int, advice: str) -> None:
    data = released()
    data["schema"] = schema
    data["some_field_of_another_schema"] = {}
    error = refusal(data)
    assert error.fields == ("schema",)  # said alone: the other schema's fields are not listed
    assert f"schema version {schema}" in str(error) and advice in str(error)


def test_a_schema_version_of_the_wrong_type_is_refused() -> None:
    data = released()
    for bad in ("1", 1.0, True):
        data["schema"] = bad
        assert refusal(data).fields == ("schema",)


@pytest.mark.parametrize(
    ("field", "value"),
    [("sha256", "0" * 63), ("sha256", "G" * 64), ("sha256", "AB" * 32), ("sha256", 7)],
)
def test_a_bad_hash_is_refused(field: str, value: object) -> None:
    error = refusal({**released(), field: value})
    assert error.fields == (field,)
    if isinstance(value, str):
        assert "is not a SHA-256 (64 lowercase hex digits)" in str(error)


def test_bad_hashes_in_the_training_data_and_holdout_are_refused() -> None:
    data = released()
    data["training_data"]["sha256"] = "nope"
    data["holdout"]["int8_predictions_sha256"] = ""
    assert set(refusal(data).fields) == {"training_data.sha256", "holdout.int8_predictions_sha256"}


@pytest.mark.parametrize(
    ("tensor", "change", "field", "reason"),
    [
        ("input", {"dtype": "int4"}, "input.dtype", "int8"),
        ("input", {"shape": []}, "input.shape", "at least 1"),
        ("input", {"shape": [1, 0]}, "input.shape.1", "greater than or equal to 1"),
        ("input", {"shape": [1, 165.0]}, "input.shape.1", "integer"),
        ("input", {"scale": 0.0}, "input", "scale must be positive"),
        ("input", {"scale": -0.1}, "input.scale", "greater than or equal to 0"),
        ("output", {"zero_point": -129}, "output", "outside int8's range"),
        ("output", {"zero_point": "0"}, "output.zero_point", "integer"),
        ("output", {"bits": 8}, "output.bits", "unknown field"),
    ],
)
def test_a_wrong_tensor_spec_is_refused(tensor: str, change: dict[str, Any], field: str, reason: str) -> None:
    data = released()
    data[tensor].update(change)
    error = refusal(data)
    assert error.fields == (field,) and reason in str(error)


def test_a_float32_tensor_needs_no_quantization() -> None:
    spec = TensorSpec((1, 4), "float32", 0.0, 0)
    x = np.array([[0.5, -1.0, 2.0, 3.0]])
    assert spec.quantize(x).dtype == np.float32 and np.array_equal(spec.dequantize(spec.quantize(x)), x)


def test_classes_that_disagree_with_the_output_or_the_training_data_are_refused() -> None:
    data = released()
    data["classes"] = ["N", "S", "V", "F"]
    error = refusal(data)
    assert "classes" in error.fields and "4 classes but the output tensor has 5 values" in str(error)
    assert "training_data.class_counts.train" in error.fields
    data["classes"] = ["N", "S", "V", "F", "F"]
    assert "repeated label" in str(refusal(data))


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("version", "v2", "not a semantic version"),
        ("version", "1.0", "not a semantic version"),
        ("name", "_ecg", "pattern"),
        ("file", "other.tflite", "must be ecg.tflite"),
        ("file", "../ecg.tflite", "pattern"),
        ("created_utc", "2026-11-25T18:07:32", "no UTC offset"),
        ("created_utc", "yesterday", "not an ISO 8601 time"),
        ("size_bytes", True, "integer"),
        ("size_bytes", 0, "greater than 0"),
        ("description", "", "at least 1"),
    ],
)
def test_other_bad_values_are_refused_by_name(field: str, value: object, reason: str) -> None:
    error = refusal({**released(), field: value})
    assert error.fields == (field,) and reason in str(error)


def test_preprocessing_of_another_major_version_is_refused_with_what_to_do() -> None:
    meta = ModelMetadata.from_dict(released("fall"))
    built = meta.preprocessing.version
    with pytest.raises(MetadataError) as info:
        meta.check_compatible("3.0.0")
    assert str(info.value) == (
        f"model fall 1.1.0 was built for models.preprocessing.motion {built} but this edge runs"
        " models.preprocessing 3.0.0: re-export the model with this release (iomt export fall) or install the"
        f" edge release whose preprocessing is {built}"
    )
    assert info.value.fields == ("preprocessing.version",) and isinstance(info.value, ModelError)


def test_a_minor_preprocessing_change_keeps_the_model_running() -> None:
    meta = ModelMetadata.from_dict(released("fall"))
    major = meta.preprocessing.version.split(".")[0]
    meta.check_compatible(f"{major}.9.3")  # same input formats: no refusal


def test_a_preprocessing_module_this_install_lacks_is_refused() -> None:
    data = released()
    data["preprocessing"]["module"] = "models.preprocessing.sonar_3d"
    needs = re.escape("needs preprocessing module models.preprocessing.sonar_3d")
    with pytest.raises(MetadataError, match=needs) as info:
        ModelMetadata.from_dict(data).check_compatible()
    assert info.value.fields == ("preprocessing.module",)
    data["preprocessing"]["module"] = "numpy"  # outside models.preprocessing: refused by the schema
    assert refusal(data).fields == ("preprocessing.module",)


def test_a_bad_preprocessing_version_is_refused_by_the_schema() -> None:
    data = released()
    data["preprocessing"]["version"] = "latest"
    error = refusal(data)
    assert error.fields == ("preprocessing.version",) and "not a semantic version" in str(error)


def test_the_writer_refuses_what_the_reader_would_refuse() -> None:
    data = released()
    bad = copy.deepcopy(data)
    bad["metrics"]["size_ratio_pass"] = np.bool_(True)  # not JSON: the old writer would have crashed half-way
    with pytest.raises(MetadataError, match="cannot be written as JSON"):
        ModelMetadata.from_dict(bad)
    bad = copy.deepcopy(data)
    bad["metrics"]["int8"]["accuracy"] = float("nan")
    with pytest.raises(MetadataError, match="cannot be written as JSON"):
        ModelMetadata.from_dict(bad)


def test_unreadable_or_non_json_metadata_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MetadataError, match="cannot read model metadata"):
        ModelMetadata.load(tmp_path / "absent.json")
    (tmp_path / "ecg.json").write_text("{not json")
    with pytest.raises(MetadataError, match="is not valid JSON") as info:
        ModelMetadata.load(tmp_path / "ecg.json")
    assert info.value.fields == ("json",) and str(tmp_path / "ecg.json") in str(info.value)
    (tmp_path / "ecg.json").write_text("[]")
    with pytest.raises(MetadataError, match="malformed"):
        ModelMetadata.load(tmp_path / "ecg.json")


def test_a_release_s_decision_threshold_reads_back_and_a_bad_one_is_refused() -> None:
    data = released()
    data["decision"] = {"threshold": 0.45, "chosen_on": "validation devices",
                        "candidates": [{"threshold": 0.45, "dice_with_lesion": 0.8, "specificity": 0.96}]}
    meta = ModelMetadata.from_dict(data)
    assert meta.decision is not None and meta.decision.threshold == 0.45 and meta.to_dict() == data
    for threshold in (0.0, 1.0, "0.4"):
        data["decision"]["threshold"] = threshold
        assert "decision.threshold" in str(refusal(data))
