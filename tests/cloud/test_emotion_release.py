"""The one-command emotion run (dataset, training, int8 export into a build folder, simulated report
and the real-recording evaluation) on the tiny ``smoke`` profile, in a subprocess, with recordings laid
out like the packages' (simulated signals in each source's units): the files it promises exist, the
report keeps real and simulated figures apart and says real recordings have no labels, the data card
lists every real source, and the exit code says whether the floors held."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from models.preprocessing import emotion
from models.runtime import ModelRunner
from tests.cloud.test_real_emotion import fake_cache

pytestmark = pytest.mark.slow


@pytest.mark.timeout(420)
def test_the_smoke_run_exports_a_model_and_a_report_with_real_and_simulated_figures_apart(tmp_path: Path) -> None:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "cloud.emotion_release", "--profile", "smoke", "--workdir", str(tmp_path / "work"),
         "--out", str(out), "--cache", str(fake_cache(tmp_path / "real")), "--version", "1.1.0-smoke"],
        capture_output=True, text=True, env=env, timeout=400, check=False,
    )
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    tflite = out / "emotion" / "emotion.tflite"
    runner = ModelRunner(tflite)
    assert runner.window_shape == (emotion.STEPS, emotion.FEATURES) and runner.version == "1.1.0-smoke"
    meta = json.loads(tflite.with_suffix(".json").read_text())
    assert meta["preprocessing"] == {"module": "models.preprocessing.emotion", "version": emotion.RELATIVE_VERSION}
    report = json.loads((out / "emotion" / "report" / "real_eval.json").read_text())
    assert report["real"]["labels"].startswith("none exist") and report["real"]["windows_analysed"] > 0
    assert report["simulated"]["test_split"]["data"].startswith("simulated")
    assert proc.returncode == (0 if report["floors_pass"] else 1)
    text = (out / "emotion" / "report" / "report.md").read_text()
    assert "**simulated** subjects" in text and "(real data, no labels" in text
    card = (out / "emotion" / "DATACARD.md").read_text()
    assert all(f"`{name}==" in card for name in ("bioread", "pysiology", "biosppy", "heartpy", "systole"))
    assert "Augmentation" in card and "reserved for the team's validation" in card
