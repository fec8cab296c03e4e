"""``iomt bench station``: what the central station costs on the gateway's write path.

Writes the same simulated ward twice through a fresh SQLite store: once with ``store.write`` alone (the
baseline: what the uplink did before the station), once through ``Station.write`` (the edge's records, then
NEWS2 for every vitals reading and the gateway's alarms, committed before the edge would be acknowledged).
Each simulated second holds, per patient, one vitals reading and 0.5 s frames of 250 Hz ECG; one patient in
ten deteriorates into NEWS2 and limit alarms. Reports data seconds written per wall second (real-time
factor), the station's extra microseconds per vitals reading (its derived NEWS2 readings and alert events
written to the store included), the alerts it raised, and the load average (the machine may be shared).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np


def register(targets: Any) -> None:
    p: argparse.ArgumentParser = targets.add_parser("station", help="the station's cost on the gateway write path")
    p.add_argument("--json", type=Path, metavar="FILE", help="write the figures as JSON here")
    p.add_argument("--patients", type=int, default=1000, help="patients in the ward")
    p.add_argument("--seconds", type=int, default=30, help="seconds of data written")
    p.set_defaults(func=run)


def _batches(patients: int, seconds: int) -> list[Any]:
    from gateway.store.records import WriteBatch
    from iomt.wire.frames import Reading, make_frame

    t0 = 1_700_000_000_000_000
    ecg = (np.sin(np.arange(125) / 10) * 800).astype(np.int16)
    out = []
    for k in range(seconds):
        readings = []
        for i in range(patients):
            drift = min(1.0, k / max(1, seconds // 2)) if i % 10 == 3 else 0.0
            readings.append(Reading(f"bed-{i:04d}", "vitals", k, t0 + k * 1_000_000, {
                "hr": 72.0 + 50 * drift, "spo2": 97.0 - 6 * drift, "bp_sys": 125.0 - 30 * drift, "bp_dia": 80.0,
                "temp_c": 36.8 + 1.8 * drift, "resp_rate": 15.0 + 11 * drift}))
        frames = [make_frame(f"bed-{i:04d}", "ecg", 2 * k + h, t0 + k * 1_000_000 + h * 500_000, 250.0, ecg, 0.001)
                  for i in range(patients) for h in range(2)]
        out.append(WriteBatch(frames=frames, readings=readings))
    return out


def _measure(batches: list[Any], workdir: Path, station: bool) -> dict[str, Any]:
    from gateway.config import GatewayConfig
    from gateway.station.service import Station
    from gateway.store.sqlite import SqliteStore

    config = GatewayConfig(db_path=workdir / "gw.sqlite")
    store = SqliteStore(config.db_path)
    ward = Station(config) if station else None
    alerts = 0
    started = time.perf_counter()
    for batch in batches:
        if ward is None:
            store.write(batch)
        else:
            written = ward.write(store, batch, "bench-edge")
            alerts += len(written.derived.alerts) if written.derived is not None else 0
    elapsed = time.perf_counter() - started
    if ward is not None:
        ward.close()
    store.close()
    return {"seconds": round(elapsed, 3), "alerts_changed": alerts}


def run(args: argparse.Namespace) -> int:
    batches = _batches(args.patients, args.seconds)
    readings = args.patients * args.seconds
    result: dict[str, Any] = {"patients": args.patients, "data_seconds": args.seconds, "vitals_readings": readings}
    for name, station in (("baseline_store_only", False), ("with_station", True)):
        workdir = Path(tempfile.mkdtemp(prefix="iomt-bench-station-"))
        try:
            figures = _measure(batches, workdir, station)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        figures["realtime_factor"] = round(args.seconds / figures["seconds"], 2)
        result[name] = figures
    extra = result["with_station"]["seconds"] - result["baseline_store_only"]["seconds"]
    result["station_us_per_vitals_reading"] = round(extra / readings * 1e6, 1)
    result["load_avg"], result["cpus"] = list(os.getloadavg()), os.cpu_count()  # a shared machine says so
    for name in ("baseline_store_only", "with_station"):
        r = result[name]
        sys.stdout.write(f"{name:20s} {r['seconds']:7.2f} s for {args.seconds} s of {args.patients} patients "
                         f"(real-time x{r['realtime_factor']}), alerts changed {r['alerts_changed']}\n")
    sys.stdout.write(f"station cost: {result['station_us_per_vitals_reading']} us per vitals reading\n")
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0
