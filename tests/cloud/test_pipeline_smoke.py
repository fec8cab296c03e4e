"""CI smoke of the whole cloud pipeline on tiny simulated data: train -> export -> eval, per model.

Runs the real ``iomt`` commands in a subprocess (TensorFlow, Keras and LiteRT for real, on the CPU),
on the ``smoke`` profile: a few simulated subjects, two epochs. It proves the plumbing and the
artefacts, not the accuracy (the released models' accuracy is checked in tests/models).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from models.runtime import ModelRunner

pytestmark = pytest.mark.slow


def iomt(*args: str | Path) -> None:
    """Run an ``iomt`` command; a two-epoch smoke model may miss a floor (exit 1, naming it), nothing else."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run(
        [sys.executable, "-m", "iomt_app", *map(str, args)], capture_output=True, text=True, env=env, timeout=240
    )
    below_floor = proc.returncode == 1 and ": below floor: " in proc.stderr
    assert proc.returncode == 0 or below_floor, f"iomt {' '.join(map(str, args))} failed:\n{proc.stderr[-3000:]}"


@pytest.mark.timeout(3 * 240 + 60)  # three subprocesses, each with its own 240 s limit (TensorFlow on 2 cores)
@pytest.mark.parametrize(
    ("model", "variant"), [("fall", "both"), ("ecg", "edge"), ("emotion", "edge"), ("vitals", "edge")]
)
def test_train_export_eval_smoke(tmp_path: Path, model: str, variant: str):
    work, out, report = tmp_path / "work", tmp_path / "models", tmp_path / "report"
    common = ("--profile", "smoke", "--workdir", work)
    iomt("train", model, "--variant", variant, "--device", "cpu", *common)
    assert (work / model / f"{model}_edge.keras").is_file()
    log = json.loads((work / model / f"{model}_edge_train.json").read_text())
    assert log["epochs_run"] >= 1 and log["backend"] == "tensorflow"
    assert (work / model / f"{model}_edge_train_log.csv").read_text().startswith("epoch")
    card = json.loads((work / model / "datacard.json").read_text())
    assert card["split_by"] == "subject" and not set(card["subjects"]["train"]) & set(card["subjects"]["test"])
    assert "Data card" in (work / model / "DATACARD.md").read_text()

    iomt("export", model, "--out", out, "--version", "0.0.1", *common)
    meta = json.loads((out / model / f"{model}.json").read_text())
    assert meta["name"] == model and meta["version"] == "0.0.1"
    assert meta["input"]["dtype"] == "int8" and meta["input"]["shape"][0] == 1 and meta["input"]["scale"] > 0
    assert meta["training_data"]["sha256"] == card["sha256"]
    assert set(meta["metrics"]) >= {"float", "int8", "checks"}
    assert meta["size_bytes"] < meta["float32_size_bytes"]
    runner = ModelRunner.released(model, out)
    window = np.zeros(runner.window_shape, dtype=np.float32)
    probs = runner.predict(window)
    assert probs.shape == (1, len(meta["classes"])) and abs(float(probs.sum()) - 1.0) < 0.05

    iomt("eval", model, "--simulated", "--report", report, *common, "--models-dir", out)
    metrics = json.loads((report / "metrics.json").read_text())
    keys = {"accuracy", "sensitivity", "specificity", "precision", "recall", "macro_f1", "auc", "per_class"}
    for kind in ("float", "int8"):
        assert keys <= set(metrics[kind])
        assert 0.0 <= metrics[kind]["accuracy"] <= 1.0
    assert metrics["test_windows"] == card["windows"]["test"]
    if variant == "both":
        assert "full_float" in metrics
    text = (report / "report.md").read_text()
    assert "simulated" in text and "int8" in text
    for png in ("confusion.png", "roc.png"):
        assert (report / png).read_bytes()[:4] == b"\x89PNG"
    if model == "vitals":  # agreement with NEWS2, held out and on scripted courses
        agreement = metrics["news2_agreement"]
        assert agreement["held_out"]["int8_model"]["n"] == card["windows"]["test"]
        assert {"ward/sepsis", "compressed/haemorrhage"} <= set(agreement["scripted_courses"])
        assert "Agreement with NEWS2" in text and "Scripted deteriorations" in text
