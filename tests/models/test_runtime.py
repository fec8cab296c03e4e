"""models.runtime: loads released int8 models in LiteRT, refuses corrupt or mismatched files, and works
on an edge install where TensorFlow and Keras cannot be imported."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from models.preprocessing import beats, compatible
from models.runtime import MetadataError, ModelError, ModelRunner, TensorSpec, read_tensor_specs, released_paths

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def model_copy(tmp_path: Path) -> tuple[Path, Path]:
    """A private copy of the released ECG model and its metadata, free to tamper with."""
    tflite, meta = released_paths("ecg")
    dst = tmp_path / "ecg"
    dst.mkdir()
    shutil.copy(tflite, dst / tflite.name)
    shutil.copy(meta, dst / meta.name)
    return dst / tflite.name, dst / meta.name


def _edit_meta(meta: Path, **changes: object) -> None:
    d = json.loads(meta.read_text())
    d.update(changes)
    meta.write_text(json.dumps(d))


def test_quantize_dequantize_round_trip_and_saturation():
    s = TensorSpec((1, 4), "int8", 0.5, -3)
    q = s.quantize(np.array([0.0, 1.0, 1000.0, -1000.0]))
    assert q.dtype == np.int8 and q.tolist() == [-3, -1, 127, -128]
    assert np.allclose(s.dequantize(q)[:2], [0.0, 1.0])


def test_released_model_runs_a_batch(model_copy):
    runner = ModelRunner(*model_copy)
    assert runner.name == "ecg" and runner.input_spec.dtype == "int8"
    x = np.zeros((3, *runner.window_shape), dtype=np.float32)
    probs = runner.predict(x)
    assert probs.shape == (3, len(runner.classes))
    assert np.allclose(probs.sum(axis=1), 1.0, atol=0.03)
    assert np.allclose(probs[0], probs[2])  # same input, same output
    label, p = runner.classify(x[0])[0]
    assert label in runner.classes and 0.0 <= p <= 1.0


def test_wrong_sha256_is_refused(model_copy):
    tflite, meta = model_copy
    _edit_meta(meta, sha256="0" * 64)
    with pytest.raises(ModelError, match="sha256"):
        ModelRunner(tflite, meta)


def test_flipped_byte_is_refused(model_copy):
    tflite, meta = model_copy
    data = bytearray(tflite.read_bytes())
    data[len(data) // 2] ^= 0xFF
    tflite.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="corrupt"):
        ModelRunner(tflite, meta)


def test_truncated_file_that_matches_its_metadata_is_refused_by_litert(model_copy):
    import hashlib

    tflite, meta = model_copy
    tflite.write_bytes(tflite.read_bytes()[:200])
    _edit_meta(meta, sha256=hashlib.sha256(tflite.read_bytes()).hexdigest())
    with pytest.raises(ModelError, match="LiteRT cannot load"):
        ModelRunner(tflite, meta)


def test_metadata_with_another_input_shape_is_refused(model_copy):
    tflite, meta = model_copy
    d = json.loads(meta.read_text())
    d["input"]["shape"] = [1, 100, 6]
    meta.write_text(json.dumps(d))
    with pytest.raises(ModelError, match="input tensor"):
        ModelRunner(tflite, meta)


def test_metadata_with_other_quantization_or_classes_is_refused(model_copy):
    tflite, meta = model_copy
    d = json.loads(meta.read_text())
    d["input"]["scale"] *= 2
    meta.write_text(json.dumps(d))
    with pytest.raises(ModelError, match="does not match"):
        ModelRunner(tflite, meta)
    d["input"]["scale"] /= 2
    d["classes"] = ["N", "V"]
    meta.write_text(json.dumps(d))
    with pytest.raises(ModelError, match="classes"):
        ModelRunner(tflite, meta)


def test_missing_or_malformed_metadata_is_refused(model_copy):
    tflite, meta = model_copy
    meta.write_text("{not json")
    with pytest.raises(ModelError, match="metadata"):
        ModelRunner(tflite, meta)
    meta.write_text(json.dumps({"name": "ecg"}))
    with pytest.raises(ModelError, match="malformed"):
        ModelRunner(tflite, meta)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"preprocessing": {"module": "models.preprocessing.beats", "version": "0.9.0"}},
         "was built for models.preprocessing.beats 0.9.0 but this edge runs models.preprocessing"),
        ({"schema": 2}, "schema version 2 is newer than this release reads"),
        ({"sha256": "not-a-hash"}, "sha256: 'not-a-hash' is not a SHA-256"),
        ({"version": "one"}, "version: 'one' is not a semantic version"),
        ({"input": {"shape": [1, 165], "dtype": "int4", "scale": 0.5, "zero_point": 0}}, "input.dtype"),
        ({"created_utc": None}, "created_utc"),
    ],
)
def test_metadata_that_is_invalid_or_incompatible_is_refused_before_the_model_loads(model_copy, change, message):
    tflite, meta = model_copy
    _edit_meta(meta, **change)
    with pytest.raises(MetadataError) as info:
        ModelRunner(tflite, meta)
    assert message in str(info.value)


def test_a_model_is_refused_by_an_install_running_other_preprocessing(model_copy):
    # the released ECG model reads input 2 of models.preprocessing.beats: an install making only major 3 refuses it
    with pytest.raises(MetadataError, match=re.escape("but this edge runs models.preprocessing 3.0.0: re-export")):
        ModelRunner(*model_copy, preprocessing_version="3.0.0")
    version = ModelRunner(*model_copy).metadata.preprocessing.version  # this install runs it
    assert any(compatible(version, f"{major}.0.0") for major in beats.RUNS_MAJORS)


def test_tensor_specs_of_a_model_in_memory(model_copy):
    tflite, _ = model_copy
    runner = ModelRunner(*model_copy)
    assert read_tensor_specs(tflite.read_bytes()) == (runner.input_spec, runner.output_spec)
    with pytest.raises(ModelError):
        read_tensor_specs(b"not a flatbuffer")


def test_wrong_window_shape_or_nan_is_refused(model_copy):
    runner = ModelRunner(*model_copy)
    with pytest.raises(ModelError, match="shape"):
        runner.predict(np.zeros((2, 7), dtype=np.float32))
    bad = np.zeros((1, *runner.window_shape), dtype=np.float32)
    bad[0, 0] = np.nan
    with pytest.raises(ModelError, match="NaN"):
        runner.predict(bad)


BLOCKER = textwrap.dedent(
    """
    import sys

    class Blocker:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("tensorflow", "keras", "tf_keras", "jax"):
                raise ImportError(f"{name} is blocked: edge installs have no TensorFlow or Keras")
            return None

    sys.meta_path.insert(0, Blocker())
    """
)


def test_runtime_works_when_tensorflow_and_keras_cannot_be_imported(tmp_path: Path):
    (tmp_path / "sitecustomize.py").write_text(BLOCKER)
    script = textwrap.dedent(
        """
        import sys
        for blocked in ("tensorflow", "keras"):
            try:
                __import__(blocked)
            except ImportError:
                pass
            else:
                raise SystemExit(f"{blocked} was importable: the blocker is not active")
        import numpy as np
        from models.preprocessing import beats, motion, emotion, vitals
        from models.runtime import ModelRunner
        for name in ("fall", "ecg", "emotion", "vitals"):
            r = ModelRunner.released(name)
            p = r.predict(np.zeros((2, *r.window_shape), dtype=np.float32))
            assert p.shape == (2, len(r.classes)), p.shape
        assert not any(m.split(".")[0] in ("tensorflow", "keras") for m in sys.modules), "TF got imported"
        print("ok")
        """
    )
    env = {"PYTHONPATH": f"{tmp_path}:{REPO}", "PATH": "/usr/bin:/bin", "PYTHONNOUSERSITE": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().endswith("ok")
