"""``iomt bench mqtt`` runs both clients through a real mosquitto and reports every message."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_the_mqtt_benchmark_counts_every_message_for_both_clients(tmp_path: Path) -> None:
    out = tmp_path / "mqtt.json"
    subprocess.run([sys.executable, "-m", "iomt_app", "bench", "mqtt", "--messages", "3000", "--json", str(out)],
                   check=True, capture_output=True, timeout=110)
    result = json.loads(out.read_text())
    assert result["received"] == result["baseline"]["received"] == 3000
    assert result["client"] == "bulk" and result["baseline"]["client"] == "paho"
    assert result["cpu_us_per_message"] > 0 and result["baseline"]["cpu_us_per_message"] > 0
