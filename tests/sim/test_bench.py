"""``iomt bench sim`` runs end to end through its own mosquitto and writes the promised JSON keys
(figures are reported, never asserted)."""

from __future__ import annotations

import json
from pathlib import Path

from iomt_app.cli import main


def test_bench_sim_writes_its_figures(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    assert main(["bench", "sim", "--devices", "6", "--duration", "1.5", "--json", str(out), "--no-pin"]) == 0
    result = json.loads(out.read_text())
    for key in ("devices", "duration_s", "realtime_ratio", "messages_per_s", "samples_per_s", "cpu_percent"):
        assert key in result
    assert result["devices"] == 6 and result["patients"] == 2 and result["duration_s"] == 1.5
    assert result["messages"] > 0 and result["realtime_ratio"] > 0
    assert result["baseline_transport_only"]["messages"] > 0
    assert result["generation_only"]["realtime_ratio"] > 0
    assert result["devices_sustained"] in (0, 6)
    assert isinstance(result["kept_up"], bool) and 0 <= result["late_fraction"] <= 1
