"""The edge benchmark runs end to end on a tiny load and writes every figure the issue asks for."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_bench_edge_writes_its_figures(tmp_path: Path) -> None:
    out = tmp_path / "edge.json"
    result = subprocess.run(
        [sys.executable, "-m", "iomt_app", "--log-level", "WARNING", "bench", "edge", "--patients", "4", "--duration",
         "6", "--image-every-min", "0.1", "--json", str(out)],
        capture_output=True, text=True, timeout=280, check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads(out.read_text())
    for run in (figures, figures["baseline"]):
        for key in ("patients", "realtime", "latency_ms", "inferences_per_s", "cpu_s_per_s", "peak_rss_mb"):
            assert key in run, key
        assert run["patients"] == 4 and run["published"] > 0 and run["handled"] == run["published"]
        assert run["inferences_per_s"] > 0 and 0 < run["peak_rss_mb"] < 1000
    assert figures["mode"] == "batched" and figures["baseline"]["mode"] == "unbatched"
    # an image per patient every 6 s: each analysed by the edge's imaging model, none dropped
    for run in (figures, figures["baseline"]):
        imaging = run["imaging"]
        assert imaging["images_rendered"] >= imaging["images_received"] > 0
        assert imaging["model"]["inferences"] == imaging["images_received"] and imaging["queue"]["dropped"] == 0
        assert imaging["latency_ms"]["count"] == imaging["images_received"]
