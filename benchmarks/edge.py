"""``iomt bench edge``: how many patients one edge core keeps up with, batched vs unbatched.

The simulator's default patient mix (pre-rendered by :mod:`benchmarks.edge_load`, replayed in real
time) and the edge run in separate processes through a real mosquitto; the edge is pinned to one
core, the load, the gateway and the broker share the other. The same load runs twice, with batched
inference and then with one model call per window (the baseline). The edge's figures are its own
``iomt edge --stats`` snapshot (:mod:`edge.stats`: counters, and percentiles from its Prometheus
histograms).

``--image-every-min M`` adds an image per patient every M minutes (the issue's floor: 1,000 patients a
core with an image each every 10 minutes), spread over the run (:func:`benchmarks.edge_load.imaging`);
the result's ``imaging`` section says how many were rendered, received and analysed, the imaging
queue's counters and the images' latency (arrival of the last chunk to the event's publication).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from benchmarks import cpus
from testsupport.net import free_port, wait_for_port
from testsupport.services import Mosquitto

log = logging.getLogger(__name__)

#: After the simulator stops, the edge must have handled everything within this many seconds to
#: count as having kept up in real time.
CATCH_UP_S = 3.0
#: The issue's latency floor, for ``patients_sustained_p99_within_100ms``.
P99_FLOOR_MS = 100.0


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("edge", help="edge throughput and latency, batched vs unbatched")
    p.add_argument("--patients", type=int, default=1000)
    p.add_argument("--duration", type=float, default=30.0, help="seconds of simulated load per run")
    p.add_argument("--json", type=Path, help="write the results here")
    p.add_argument("--no-baseline", action="store_true", help="skip the unbatched baseline run")
    p.add_argument("--edge-core", type=int, default=0, help="CPU core the edge is pinned to")
    p.add_argument("--image-every-min", type=float, metavar="M", help="also an image per patient every M minutes "
                   "(spread over the run; plain images, accepted by the edge as a legacy device's), analysed by the "
                   "edge's imaging model on its own cycle budget")
    p.add_argument("--sweep", metavar="N,N,...", help="also run these patient counts (batched) and report the "
                   "largest kept in real time as patients_sustained")
    p.set_defaults(func=run)


def _pin(core: int | None) -> Any:
    """``preexec_fn`` pinning a child to the ``core``-th allowed core (``None``: no pinning)."""
    if core is None or cpus.core(core) is None:
        return None
    return lambda: cpus.pin(core)


class _CpuSamples:
    """CPU seconds of a process over wall time, sampled from ``/proc`` (Linux) while it runs."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.samples: list[tuple[float, float]] = []
        self._tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def sample(self) -> None:
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return
        self.samples.append((time.time(), (int(fields[11]) + int(fields[12])) / self._tick))

    def rate(self, start: float | None, end: float | None) -> float | None:
        """CPU seconds per second between the samples nearest ``start`` and ``end`` (Unix times)."""
        if start is None or end is None:
            return None
        inside = [s for s in self.samples if start <= s[0] <= end]
        if len(inside) < 2 or inside[-1][0] - inside[0][0] < 1.0:
            return None
        (t0, c0), (t1, c1) = inside[0], inside[-1]
        return round((c1 - c0) / (t1 - t0), 3)


def _processed(metrics_url: str) -> int:
    try:
        text = urllib.request.urlopen(metrics_url, timeout=2).read().decode()
    except OSError:
        return -1
    total = 0.0
    for match in re.finditer(r'^iomt_edge_messages_total\{result="(?:accepted|rejected)"\} ([0-9.e+]+)$', text, re.M):
        total += float(match.group(1))
    return int(total)


IOMT = ["-m", "iomt_app", "--log-level", "WARNING"]
LOAD = ["-m", "benchmarks.edge_load"]


def _spawn(
    command: list[str], args: list[str], core: int | None, log_path: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    out = open(log_path, "wb")  # noqa: SIM115 - closed with the process by _stop
    return subprocess.Popen(
        [sys.executable, *command, *args], stdout=out, stderr=subprocess.STDOUT, preexec_fn=_pin(core), env=env,
    )


def _stop(proc: subprocess.Popen[bytes], grace_s: float = 30.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


def run_once(patients: int, duration_s: float, batched: bool, edge_core: int, workdir: Path,
             image_every_min: float | None = None) -> dict[str, Any]:
    mode = "batched" if batched else "unbatched"
    workdir.mkdir(parents=True, exist_ok=True)
    other = edge_core + 1
    with Mosquitto() as broker:
        cpus.pin(other, broker.pid)  # the broker shares the other core with the load and the gateway
        gw_port, metrics_port = free_port(), free_port()
        gateway = _spawn(IOMT, ["gateway", "--port", str(gw_port), "--db", str(workdir / "gateway.sqlite")], other,
                         workdir / "gateway.log")
        token_file = workdir / "edge-1.uplink-token"  # the edge's credential at the gateway's uplink
        subprocess.run([sys.executable, *IOMT, "edge-tokens", "issue", "edge-1", "--state",
                        str(workdir / "state.sqlite"), "--audit", str(workdir / "audit.sqlite"), "--out",
                        str(token_file)], check=True, stdout=subprocess.DEVNULL)
        env = dict(os.environ, IOMT_EDGE__BATCHED_INFERENCE=str(batched).lower(),
                   IOMT_EDGE__UPLINK_TOKEN_FILE=str(token_file))
        if image_every_min:  # the load's images are plain (it has no device registry to seal them with)
            env["IOMT_EDGE__ALLOW_UNENCRYPTED_IMAGES"] = "true"
        edge = _spawn(
            IOMT, ["edge", "--broker", broker.url, "--gateway", f"http://127.0.0.1:{gw_port}", "--outbox",
             str(workdir / "outbox.sqlite"), "--metrics-port", str(metrics_port), "--stats",
             str(workdir / "edge-stats.json")],
            edge_core, workdir / "edge.log", env,
        )
        sim: subprocess.Popen[bytes] | None = None
        try:
            if not (wait_for_port("127.0.0.1", gw_port, 30) and wait_for_port("127.0.0.1", metrics_port, 30)):
                raise RuntimeError(f"gateway or edge did not start; see {workdir}")
            report = workdir / "sim-report.json"
            images = ["--image-every-min", str(image_every_min)] if image_every_min else []
            sim = _spawn(LOAD, ["--broker", broker.url, "--patients", str(patients), "--duration", str(duration_s),
                               "--report", str(report), *images], other, workdir / "load.log")
            cpu = _CpuSamples(edge.pid)
            deadline = time.monotonic() + duration_s + 600
            while sim.poll() is None and time.monotonic() < deadline:
                cpu.sample()
                time.sleep(0.25)
            published = int(json.loads(report.read_text())["published"]) if report.exists() else 0
            sim_end = time.monotonic()
            handled = _processed(f"http://127.0.0.1:{metrics_port}/metrics")
            while handled < published and time.monotonic() - sim_end < 60:
                cpu.sample()
                time.sleep(0.2)
                handled = _processed(f"http://127.0.0.1:{metrics_port}/metrics")
            catch_up_s = time.monotonic() - sim_end
            cpu.sample()
            sim_report = json.loads(report.read_text()) if report.exists() else {}
        finally:
            if sim is not None:
                _stop(sim)
            _stop(edge)
            _stop(gateway)
    stats = json.loads((workdir / "edge-stats.json").read_text())
    wall = stats["wall_s"]
    inferences = sum(m["inferences"] for m in stats["models"].values())
    windows = sum(m["windows"] for m in stats["models"].values())
    kept_up = handled >= published and catch_up_s <= CATCH_UP_S and sim_report.get("late_frames", 1) == 0
    result = {
        "mode": mode,
        "patients": patients,
        "duration_s": duration_s,
        "realtime": bool(kept_up),
        "published": published,
        "handled": handled,
        "catch_up_s": round(catch_up_s, 3),
        "messages_per_s": round(handled / duration_s, 1),
        "windows_per_s": round(windows / duration_s, 1),
        "inferences_per_s": round(inferences / duration_s, 1),
        "latency_ms": {**{k: stats["latency_ms"][k] for k in ("p50", "p90", "p99", "p99.9", "max")},
                       "windows": stats["latency_ms"]["count"]},
        "latency_ms_by_model": stats["latency_ms_by_model"],
        # over the load's own span (start-up and the idle tail would dilute it); whole run as fallback
        "cpu_s_per_s": cpu.rate(sim_report.get("start_unix"), sim_report.get("end_unix"))
        or round(stats["cpu_s"] / wall, 3),
        "peak_rss_mb": round(stats["peak_rss_mb"], 1),
        "models": stats["models"],
        "model_versions": stats["model_versions"],
        "sim_late_frames": sim_report.get("late_frames"),
        "gc": stats.get("gc"),
        "cycles": stats.get("cycles"),
        "latency_ms_before_cycle": stats.get("latency_ms_before_cycle"),
        "outbox_at_end": stats.get("outbox"),
    }
    if image_every_min:
        result["imaging"] = {
            "image_every_min": image_every_min,
            "images_rendered": sim_report.get("images_rendered"),
            "images_received": stats["counters"]["images"],
            "queue": stats["pipelines"].get("imaging"),
            "model": stats["models"].get("imaging"),
            "latency_ms": stats["latency_ms_by_model"].get("imaging"),
        }
    log.info("%s: %s", mode, json.dumps({k: v for k, v in result.items() if k != "models"}))
    return result


def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="iomt-bench-edge-") as tmp:
        batched = run_once(args.patients, args.duration, True, args.edge_core, Path(tmp) / "batched",
                           args.image_every_min)
        out: dict[str, Any] = dict(batched)
        if not args.no_baseline:
            out["baseline"] = run_once(args.patients, args.duration, False, args.edge_core, Path(tmp) / "unbatched",
                                       args.image_every_min)
        if args.sweep:
            counts = sorted({int(n) for n in args.sweep.split(",") if n.strip()})
            sweep = {n: run_once(n, args.duration, True, args.edge_core, Path(tmp) / f"sweep-{n}", args.image_every_min)
                     for n in counts}
            out["sweep"] = {str(n): {k: r[k] for k in ("realtime", "catch_up_s", "latency_ms", "cpu_s_per_s",
                                                      "sim_late_frames", "peak_rss_mb")}
                            for n, r in sweep.items()}
            kept = [n for n, r in sweep.items() if r["realtime"]] + ([args.patients] if batched["realtime"] else [])
            out["patients_sustained"] = max(kept, default=0)
            # the floor is real time *and* p99 <= 100 ms: the largest count meeting both
            runs = [*sweep.items(), (args.patients, batched)]
            within = [n for n, r in runs if r["realtime"] and (r["latency_ms"]["p99"] or 0) <= P99_FLOOR_MS]
            out["patients_sustained_p99_within_100ms"] = max(within, default=0)
    out["machine"] = {"cpus": os.cpu_count(), "edge_pinned_to_one_core": hasattr(os, "sched_setaffinity")}
    text = json.dumps(out, indent=2)
    if args.json is not None:
        args.json.write_text(text + "\n")
    sys.stdout.write(text + "\n")
    return 0
