"""`iomt demo`, the main job, end to end: 20 patients for 20 s, every sequence number stored once."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from iomt.wire.streams import is_reading_stream
from testsupport.services import Mosquitto

pytestmark = pytest.mark.slow


def run_demo(tmp_path: Path, *extra: str) -> tuple[dict[str, object], Path]:
    summary = tmp_path / "s.json"
    workdir = tmp_path / "work"
    cmd = [sys.executable, "-m", "iomt_app", "--log-level", "WARNING", "demo", "--patients", "20", "--duration", "20",
           "--summary", str(summary), "--workdir", str(workdir), "--port", "0", *extra]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=110, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(summary.read_text()), workdir


def assert_every_sequence_stored_once(workdir: Path) -> None:
    published = json.loads((workdir / "sim-report.json").read_text())["streams"]
    assert len({key.split("/")[0] for key in published}) >= 20  # every patient's devices reported
    db = sqlite3.connect(workdir / "gateway.sqlite")
    try:
        for key, count in published.items():
            device, stream = key.rsplit("/", 1)
            table = "readings" if is_reading_stream(stream) else "frames"
            seqs = [r[0] for r in db.execute(
                f"SELECT seq FROM {table} WHERE device = ? AND stream = ? ORDER BY seq", (device, stream))]
            assert seqs == list(range(count)), f"{key}: stored {len(seqs)} of {count}"
        assert count > 0
    finally:
        db.close()


def test_demo_through_real_mosquitto_stores_every_sequence_exactly_once(tmp_path: Path) -> None:
    with Mosquitto() as broker:
        summary, workdir = run_demo(tmp_path, "--broker", broker.url)
    assert summary["lost"] == 0 and summary["duplicates"] == 0
    assert summary["stored"] == summary["published"]
    # 20 patients x 20 s: 40 ECG + 40 motion frames and 20 vitals readings each, less the stagger
    assert isinstance(summary["published"], int) and summary["published"] > 20 * 90
    assert_every_sequence_stored_once(workdir)
    assert summary["events"] > 0  # heart-rate events flowed through the outbox too
    latency = summary["latency_ms"]
    assert isinstance(latency, dict) and latency["p50"] is not None and latency["p99"] >= latency["p50"] > 0


def test_demo_on_the_embedded_broker(tmp_path: Path) -> None:
    summary, workdir = run_demo(tmp_path)
    assert summary["broker"] == "embedded amqtt"
    assert summary["lost"] == 0 and summary["duplicates"] == 0 and summary["dead_letter"] == 0
    assert summary["stored"] == summary["published"] > 20 * 90
    assert_every_sequence_stored_once(workdir)
    for key in ("published", "stored", "lost", "duplicates", "dead_letter", "latency_ms"):
        assert key in summary
