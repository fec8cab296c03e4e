"""``iomt bench store`` writes one object per backend with the three figures; ``iomt gateway`` config."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.config import GatewayConfig
from iomt.config import ConfigError, load_config


@pytest.mark.slow
def test_bench_store_writes_figures_for_each_backend(tmp_path: Path):
    out = tmp_path / "store.json"
    proc = subprocess.run(
        [sys.executable, "-m", "iomt_app", "bench", "store", "--patients", "3", "--seconds", "4", "--json", str(out)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    for backend in ("sqlite", "influxdb"):
        figures = result[backend]
        assert figures["samples_per_s"] > 0 and figures["frames_per_s"] > 0 and figures["query_ms"] > 0
        assert figures["frames"] == 12 and figures["query_raw_samples"] == 3600 * 250
        assert figures["baseline"]["samples_per_s"] > 0
        assert backend in proc.stdout


def test_gateway_config_selects_backend_and_rejects_bad_values(tmp_path: Path):
    config = load_config(GatewayConfig, "gateway", env={"IOMT_GATEWAY__BACKEND": "influxdb"},
                         overrides={"influx.url": "http://127.0.0.1:9999", "retention.waveform_days": 7})
    assert config.backend == "influxdb" and config.influx.url == "http://127.0.0.1:9999"
    assert config.retention.waveform_days == 7
    with pytest.raises(ConfigError, match="backend"):
        load_config(GatewayConfig, "gateway", env={}, overrides={"backend": "mongodb"})
    with pytest.raises(ConfigError, match="queue_messages"):
        load_config(GatewayConfig, "gateway", env={}, overrides={"live.queue_messages": 0})


def test_sqlite_retention_prunes_old_waveforms_and_events(tmp_path: Path):
    from gateway.store.records import Retention, WriteBatch
    from gateway.store.sqlite import SqliteStore
    from tests.gateway.helpers import T0_US, ecg_frame, event

    store = SqliteStore(tmp_path / "r.sqlite", retention=Retention(waveform_days=1, events_days=30))
    store.write(WriteBatch(frames=[ecg_frame("p1", s) for s in range(3)], events=[event("p1")]))
    day = 86_400_000_000
    assert store.prune(T0_US + day // 2) == 0
    assert store.prune(T0_US + 2 * day) == 3
    assert store.count("frames") == 0 and store.count("events") == 1
    assert store.stream_stats() == []  # counters follow the pruned tables
    assert store.prune(T0_US + 31 * day) == 1
    store.close()


def test_influx_retention_policies_follow_the_settings(influxd):
    from gateway.store.influx import InfluxStore
    from gateway.store.records import Retention

    store = InfluxStore(influxd.url, database="retention_test", retention=Retention(waveform_days=2))
    policies = {row[0]: row[1] for row in store._query('SHOW RETENTION POLICIES ON "retention_test"')[0][0]["values"]}
    assert policies["raw"] == "48h0m0s" and policies["keep"] == "0s"  # 0s: kept forever
    store.close()
    again = InfluxStore(influxd.url, database="retention_test", retention=Retention(waveform_days=3, events_days=30))
    policies = {row[0]: row[1] for row in again._query('SHOW RETENTION POLICIES ON "retention_test"')[0][0]["values"]}
    assert policies["raw"] == "72h0m0s" and policies["keep"] == "720h0m0s"
    again.close()


@pytest.mark.slow
def test_bench_dashboard_measures_the_station_with_numerics_on(tmp_path: Path):
    out = tmp_path / "dashboard.json"
    proc = subprocess.run(
        [sys.executable, "-m", "iomt_app", "bench", "dashboard", "--patients", "5", "--seconds", "2", "--json",
         str(out)], capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    loaded = result["streaming"]
    assert loaded["cards"] == 5 and loaded["fps"] > 0 and result["baseline_idle_page"]["fps"] > 0
    assert loaded["vitals_readings_per_s"] > 0 and loaded["wave_frames_per_s"] > 0  # numerics and traces live
    assert loaded["gateway_and_feeder_cpu_s_per_s"] > 0 and "streaming" in proc.stdout


def test_bench_station_measures_the_write_path_against_the_store_alone(tmp_path: Path):
    out = tmp_path / "station.json"
    proc = subprocess.run(
        [sys.executable, "-m", "iomt_app", "bench", "station", "--patients", "20", "--seconds", "6", "--json",
         str(out)], capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    assert result["vitals_readings"] == 120
    assert result["baseline_store_only"]["alerts_changed"] == 0  # the store alone derives nothing
    assert result["with_station"]["alerts_changed"] > 0  # two of the 20 deteriorate into alarms
    assert result["with_station"]["realtime_factor"] > 0 and "station cost" in proc.stdout
