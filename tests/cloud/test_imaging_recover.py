"""A released imaging .tflite rebuilt as a trainable Keras model: it reproduces the int8 model, its batch
norms hold in training mode as in inference, and a file of another architecture is refused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cloud.imaging.recover import agreement, phantom_inputs, rebuild
from models.runtime import RELEASED_DIR, ModelRunner, released_paths


@pytest.fixture(scope="module", autouse=True)
def _keras_on_cpu() -> None:
    from cloud.device import configure

    configure("cpu")


@pytest.fixture(scope="module")
def released() -> tuple[ModelRunner, Path]:
    tflite, meta = released_paths("imaging", RELEASED_DIR)
    return ModelRunner(tflite, meta), tflite


def test_the_rebuilt_model_reproduces_the_release_in_inference_and_in_training(
        released: tuple[ModelRunner, Path]) -> None:
    runner, tflite = released
    calibration = phantom_inputs(24, seed=1)
    model = rebuild(runner, tflite, calibration)
    check = agreement(model, runner, phantom_inputs(8, seed=2))
    assert check["mean_difference"] < 0.01 and check["same_side_of_0.5"] > 0.99
    # training mode normalises with the batch's own statistics: the re-parameterised batch norms give the
    # same output there (an identity batch norm would not), so training starts from the release
    inference = model(calibration, training=False).numpy()[..., 1]  # TensorFlow backend (the CPU's)
    training = model(calibration, training=True).numpy()[..., 1]
    assert float(np.abs(training - inference).mean()) < 0.02


def test_a_file_of_another_architecture_is_refused(released: tuple[ModelRunner, Path]) -> None:
    runner, _ = released
    fall, _ = released_paths("fall", RELEASED_DIR)
    with pytest.raises(ValueError, match=r"not this architecture|convolution"):
        rebuild(runner, fall, phantom_inputs(2, seed=1))


def test_the_command_writes_the_model_resume_continues(tmp_path: Path) -> None:
    # the real command in a subprocess, as the pipeline smoke tests run theirs (Keras saving warns under
    # numpy 2 from inside TensorFlow, which this suite would turn into an error)
    proc = subprocess.run([sys.executable, "-m", "cloud.imaging.recover", "--workdir", str(tmp_path), "--images", "16"],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "imaging" / "imaging_edge.keras").is_file()
    assert "--resume" in proc.stdout and "on average" in proc.stdout
