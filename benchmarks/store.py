"""``iomt bench store``: sustained ingest and range-query latency of each store backend.

Per backend: ``samples_per_s`` and ``frames_per_s`` for uplink-sized batches of decoded ECG frames
(``Store.write``, committed, de-duplication included), and ``query_ms``, the median time to fetch an
hour of one patient's ECG downsampled to 2,000 points. A baseline measured in the same run shows the
cost of the store's own logic: the same rows written the plainest way the backend allows (a bare
SQLite table; pre-built line protocol POSTed to InfluxDB's ``/write``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

FLOOR_SQLITE_SAMPLES_PER_S = 200_000
T0_US = 1_700_000_000_000_000


def register(targets: Any) -> None:
    p: argparse.ArgumentParser = targets.add_parser(
        "store", help="store ingest (samples/s, frames/s) and query latency"
    )
    p.add_argument("--json", type=Path, metavar="FILE", help="write the figures as JSON here")
    p.add_argument("--backends", default="sqlite,influxdb", help="comma-separated: sqlite, influxdb")
    p.add_argument("--patients", type=int, default=100, help="patients streaming ECG at once")
    p.add_argument("--seconds", type=int, default=60, help="seconds of ECG per patient to ingest")
    p.add_argument("--rate", type=float, default=250.0, help="ECG sample rate (Hz); one frame per second")
    p.add_argument("--batch-frames", type=int, default=500, help="frames per write (an uplink batch)")
    p.add_argument("--influx-url", help="use this InfluxDB instead of starting influxd in a temp dir")
    p.set_defaults(func=run)


def make_frames(patients: int, seconds: int, rate: float, device_prefix: str = "bench") -> list[Any]:
    """``seconds`` one-second int16 ECG frames per patient, interleaved in arrival order."""
    from iomt.wire.frames import decode_frame, encode_frame, make_frame

    n = int(rate)
    rng = np.random.default_rng(0)
    base = (np.sin(np.arange(n) * 2 * np.pi / n) * 800 + rng.normal(0, 20, n)).astype(np.int16)
    frames = []
    for s in range(seconds):
        for p in range(patients):
            f = make_frame(f"{device_prefix}-{p:04d}", "ecg", s, T0_US + s * 1_000_000, rate, base, 0.001)
            frames.append(decode_frame(encode_frame(f)))  # as the gateway holds them after decoding
    return frames


def _chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def measure_store(store: Any, frames: Sequence[Any], batch_frames: int, rate: float) -> dict[str, Any]:
    from gateway.store.base import WriteBatch

    batches = [WriteBatch(frames=c) for c in _chunks(frames, batch_frames)]
    elapsed = 0.0
    for batch in batches:
        start = time.perf_counter()
        store.write(batch)
        elapsed += time.perf_counter() - start
    samples = sum(f.n_samples for f in frames)
    # An hour of one patient's ECG, then the dashboard's range query over it.
    hour = make_frames(1, 3600, rate, device_prefix="hour")
    for b in _chunks(hour, batch_frames):
        store.write(WriteBatch(frames=b))
    device = hour[0].device
    timings = []
    for _ in range(5):
        start = time.perf_counter()
        series = store.query_stream(device, "ecg", T0_US, T0_US + 3600 * 1_000_000 - 1, 2000)
        timings.append((time.perf_counter() - start) * 1000)
    assert series.t_us.size == 2000 and series.samples == 3600 * int(rate), "query returned the wrong series"
    return {
        "samples_per_s": round(samples / elapsed),
        "frames_per_s": round(len(frames) / elapsed),
        "query_ms": round(statistics.median(timings), 2),
        "query_ms_all": [round(t, 2) for t in timings],
        "query_raw_samples": series.samples,
        "frames": len(frames),
        "samples": samples,
        "ingest_s": round(elapsed, 3),
    }


def sqlite_baseline(path: Path, frames: Sequence[Any], batch_frames: int) -> dict[str, Any]:
    """The same blobs into a bare WAL table: one INSERT per frame, one transaction per batch."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE f (device TEXT, stream TEXT, seq INTEGER, t0 INTEGER, data BLOB, "
               "PRIMARY KEY (device, stream, seq)) WITHOUT ROWID")
    start = time.perf_counter()
    for chunk in _chunks(frames, batch_frames):
        db.execute("BEGIN")
        db.executemany("INSERT INTO f VALUES (?,?,?,?,?)",
                       [(f.device, f.stream, f.seq, f.t0_us, f.samples.tobytes()) for f in chunk])
        db.execute("COMMIT")
    elapsed = time.perf_counter() - start
    db.close()
    return {"samples_per_s": round(sum(f.n_samples for f in frames) / elapsed),
            "frames_per_s": round(len(frames) / elapsed), "what": "bare WAL table, executemany per batch"}


def influx_baseline(url: str, frames: Sequence[Any], batch_frames: int) -> dict[str, Any]:
    """Pre-built line protocol (one point per frame, like the store's) POSTed to /write; no de-dup query."""
    import base64
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{url}/query", data=b"q=CREATE DATABASE baseline"), timeout=30)
    bodies = [
        "\n".join(
            f'frames,device={f.device},stream={f.stream} seq={f.seq}i,'
            f'data="{base64.b64encode(f.samples.tobytes()).decode()}" {f.t0_us * 1000}'
            for f in chunk
        ).encode()
        for chunk in _chunks(frames, batch_frames)
    ]
    start = time.perf_counter()
    for body in bodies:
        urllib.request.urlopen(urllib.request.Request(f"{url}/write?db=baseline&precision=n", data=body),
                               timeout=60).read()
    elapsed = time.perf_counter() - start
    return {"samples_per_s": round(sum(f.n_samples for f in frames) / elapsed),
            "frames_per_s": round(len(frames) / elapsed), "what": "pre-built line protocol POSTed to /write"}


def run(args: argparse.Namespace) -> int:
    from gateway.store.influx import InfluxStore
    from gateway.store.sqlite import SqliteStore
    from testsupport.services import Influxd

    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(backends) - {"sqlite", "influxdb"}
    if unknown:
        sys.stderr.write(f"unknown backend(s): {', '.join(sorted(unknown))}\n")
        return 2
    frames = make_frames(args.patients, args.seconds, args.rate)
    result: dict[str, Any] = {
        "workload": {"patients": args.patients, "seconds": args.seconds, "rate_hz": args.rate,
                     "frame_samples": int(args.rate), "batch_frames": args.batch_frames,
                     "query": "1 h of one patient's ECG downsampled to 2,000 points, median of 5"},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_avg_at_start": list(os.getloadavg())},
    }
    with tempfile.TemporaryDirectory(prefix="iomt-bench-store-") as tmp:
        if "sqlite" in backends:
            store = SqliteStore(Path(tmp) / "store.sqlite")
            result["sqlite"] = measure_store(store, frames, args.batch_frames, args.rate)
            store.close()
            result["sqlite"]["baseline"] = sqlite_baseline(Path(tmp) / "baseline.sqlite", frames, args.batch_frames)
            result["sqlite"]["floor_samples_per_s"] = FLOOR_SQLITE_SAMPLES_PER_S
            result["sqlite"]["meets_floor"] = result["sqlite"]["samples_per_s"] >= FLOOR_SQLITE_SAMPLES_PER_S
        if "influxdb" in backends:
            server = None if args.influx_url else Influxd(workdir=Path(tmp) / "influxd").start()
            url = args.influx_url or (server.url if server else "")
            try:
                influx = InfluxStore(url, database=f"bench{time.time_ns() % 10**9}", timeout_s=120)
                result["influxdb"] = measure_store(influx, frames, args.batch_frames, args.rate)
                influx.close()
                result["influxdb"]["baseline"] = influx_baseline(url, frames, args.batch_frames)
                result["influxdb"]["server"] = "influxd started by the benchmark" if server else url
            finally:
                if server is not None:
                    server.stop()
    result["machine"]["load_avg_at_end"] = list(os.getloadavg())
    for name in ("sqlite", "influxdb"):
        if name in result:
            r = result[name]
            sys.stdout.write(
                f"{name:9s} {r['samples_per_s']:>12,} samples/s {r['frames_per_s']:>9,} frames/s "
                f"query {r['query_ms']:8.1f} ms   (baseline {r['baseline']['samples_per_s']:,} samples/s: "
                f"{r['baseline']['what']})\n"
            )
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0
