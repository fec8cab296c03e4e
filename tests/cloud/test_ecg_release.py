"""The one-command ECG run (dataset, training, int8 export into a build folder, real and simulated
evaluation) on the tiny ``smoke`` profile, in a subprocess as ``iomt train`` runs in the pipeline
smoke test: the files it promises exist, load in LiteRT, the report keeps real and simulated figures
apart, and the exit code says whether the floors held."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from models.preprocessing.beats import INPUT2
from models.runtime import ModelRunner

pytestmark = pytest.mark.slow


def test_the_smoke_run_exports_an_int8_model_and_a_labelled_report(tmp_path: Path) -> None:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "cloud.ecg_release", "--profile", "smoke", "--workdir", str(tmp_path / "work"),
         "--out", str(out)], capture_output=True, text=True, env=env, timeout=240, check=False,
    )
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    tflite = out / "ecg" / "ecg.tflite"
    runner = ModelRunner(tflite)
    assert runner.window_shape == (INPUT2,) and runner.input_spec.dtype == "int8"
    meta = json.loads(tflite.with_suffix(".json").read_text())
    assert meta["preprocessing"] == {"module": "models.preprocessing.beats", "version": "2.0.0"}
    report = json.loads((out / "ecg" / "report" / "ecg_eval.json").read_text())
    assert report["simulated_test"]["data"] == "simulated held-out subjects"
    assert report["real_held_out"]["int8"]["data"] == "real recordings"
    assert set(report["simulated_test"]) >= {"float", "int8"} and report["model"]["input"] == "2"
    assert proc.returncode == (0 if report["floors_pass"] else 1)
    text = (out / "ecg" / "report" / "report.md").read_text()
    assert "(simulated data)" in text and "(real data)" in text
