"""``iomt bench bodies`` runs both gateways (limit off, then on), prints and writes its figures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_bench_bodies_measures_both_runs_and_every_frame_is_stored(tmp_path: Path) -> None:
    out = tmp_path / "bodies.json"
    proc = subprocess.run(
        [sys.executable, "-m", "iomt_app", "bench", "bodies", "--uploads", "3", "--mb", "4", "--slots", "1",
         "--wait-s", "0.2", "--json", str(out)], capture_output=True, text=True, timeout=240, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    assert result["uploads"] == 3 and result["frames_sent"] > 0
    for name, limit in (("baseline_no_limit", None), ("limited", 1)):
        run = result[name]
        assert run["limit"] == limit and name in proc.stdout
        assert run["uploads_ok"] == 3 and run["frames_stored"] == result["frames_sent"]
        assert run["rss_peak_mb"] >= run["rss_before_mb"] > 20
