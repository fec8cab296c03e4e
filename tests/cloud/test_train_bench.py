"""``iomt bench train`` measures the CPU for real and reports the GPU as unavailable where there is none."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from cloud.device import jax_gpus


def test_train_bench_writes_cpu_figures_and_never_fakes_a_gpu(tmp_path: Path):
    out = tmp_path / "train.json"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    args = ["bench", "train", "--model", "ecg", "--variant", "edge", "--samples", "512", "--batch-size", "64"]
    proc = subprocess.run(
        [sys.executable, "-m", "iomt_app", *args, "--json", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["cpu"]["device"] == "cpu" and result["cpu"]["backend"] == "tensorflow"
    assert result["cpu"]["samples"] == 512 and result["cpu"]["samples_per_s"] > 0
    assert "samples/s" in proc.stdout
    if not jax_gpus():
        assert result["gpu"]["available"] is False and "no GPU" in result["gpu"]["reason"]
        assert "gpu_speedup" not in result
