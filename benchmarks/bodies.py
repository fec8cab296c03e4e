"""``iomt bench bodies``: the gateway's memory under concurrent large uploads, limits off and on.

Starts ``iomt gateway`` (SQLite, temp dir) as a process of its own, twice: first with the large-body
limit off (``limits.concurrent_large_bodies = 0``: the baseline, as the gateway was), then with the
configured limit. Each time N edges (each with its own token) upload one M MB batch of valid ECG frames at
the same moment, and retry a 503 after its Retry-After, as an edge does. Reported per run: the
gateway's RSS before, its peak (VmHWM) and its RSS after, how many uploads were answered 503 before
they got through, whether every frame was stored, and the seconds until all were.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

SAMPLES_PER_FRAME = 8192
T0_US = 1_700_000_000_000_000


def register(targets: Any) -> None:
    p: argparse.ArgumentParser = targets.add_parser("bodies", help="gateway memory under concurrent large uploads")
    p.add_argument("--json", type=Path, metavar="FILE", help="write the figures as JSON here")
    p.add_argument("--uploads", type=int, default=8, help="concurrent uploads (default 8)")
    p.add_argument("--mb", type=float, default=60.0, help="size of each upload in MB (default 60)")
    p.add_argument("--slots", type=int, default=2, help="limits.concurrent_large_bodies of the limited run")
    p.add_argument("--wait-s", type=float, default=5.0, help="limits.large_body_wait_s of the limited run")
    p.set_defaults(func=run)


def _status(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM (peak) of ``pid`` in MB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024
    return out


def _bodies(uploads: int, mb: float) -> list[bytes]:
    from iomt.wire.frames import encode_frame, make_frame
    from iomt.wire.uplink import RecordKind, UplinkRecord, encode_batch

    raw = (np.sin(np.arange(SAMPLES_PER_FRAME) / 40) * 800).astype(np.int16)
    frame_bytes = len(encode_frame(make_frame("edge-0-p", "ecg", 0, T0_US, 250.0, raw, 0.001)))
    frames = max(1, int(mb * 1e6 / (frame_bytes + 5)))
    bodies = []
    for u in range(uploads):
        records = [UplinkRecord(RecordKind.FRAME, encode_frame(make_frame(
            f"edge-{u}-p", "ecg", s, T0_US + s * 32_768_000, 250.0, raw, 0.001))) for s in range(frames)]
        bodies.append(encode_batch(records))
    return bodies


async def _upload(url: str, token: str, node: str, body: bytes, deadline: float) -> dict[str, Any]:
    import aiohttp

    from iomt.wire.uplink import CONTENT_TYPE

    refused = 0
    headers = {"Content-Type": CONTENT_TYPE, "Authorization": f"Bearer {token}", "X-Iomt-Node": node}
    timeout = aiohttp.ClientTimeout(total=None, sock_read=600)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        while time.monotonic() < deadline:
            async with http.post(f"{url}/api/v1/uplink", data=body, headers=headers) as r:
                answer = await r.json()
                if r.status == 200:
                    return {"status": 200, "stored": answer["stored"], "refused_503": refused}
                if r.status != 503:
                    return {"status": r.status, "error": answer.get("error"), "refused_503": refused}
                refused += 1
                await asyncio.sleep(float(r.headers.get("Retry-After", "1")))
    return {"status": None, "refused_503": refused}


def _one_run(workdir: Path, bodies: list[bytes], slots: int, wait_s: float) -> dict[str, Any]:
    from gateway.auth.edges import EdgeTokens
    from testsupport.net import free_port, wait_for_port

    workdir.mkdir(parents=True)
    tokens = EdgeTokens(workdir / "state.sqlite")
    issued = [tokens.issue(f"edge-{u}") for u in range(len(bodies))]
    tokens.close()
    port = free_port()
    env = {**os.environ, "IOMT_GATEWAY__LIMITS__CONCURRENT_LARGE_BODIES": str(slots),
           "IOMT_GATEWAY__LIMITS__LARGE_BODY_WAIT_S": str(wait_s)}
    log = (workdir / "gateway.log").open("wb")
    gateway = subprocess.Popen([sys.executable, "-m", "iomt_app", "--log-level", "WARNING", "gateway", "--port",
                                str(port), "--db", str(workdir / "gateway.sqlite")], stdout=log,
                               stderr=subprocess.STDOUT, env=env)
    try:
        if not wait_for_port("127.0.0.1", port, 60):
            raise RuntimeError(f"the gateway did not start; see {workdir / 'gateway.log'}")
        time.sleep(0.5)
        before = _status(gateway.pid)
        samples: list[float] = []

        async def upload_all() -> list[dict[str, Any]]:
            async def sample() -> None:
                while True:
                    samples.append(_status(gateway.pid)["VmRSS"])
                    await asyncio.sleep(0.05)

            sampler = asyncio.ensure_future(sample())
            deadline = time.monotonic() + 600
            try:
                return await asyncio.gather(*(_upload(f"http://127.0.0.1:{port}", issued[u], f"edge-{u}", body,
                                                      deadline) for u, body in enumerate(bodies)))
            finally:
                sampler.cancel()
                await asyncio.gather(sampler, return_exceptions=True)

        started = time.monotonic()
        results = asyncio.run(upload_all())
        elapsed = time.monotonic() - started
        after = _status(gateway.pid)
    finally:
        gateway.terminate()
        gateway.wait(60)
        log.close()
    return {
        "limit": slots or None,
        "rss_before_mb": round(before["VmRSS"], 1),
        "rss_peak_mb": round(after["VmHWM"], 1),
        "rss_peak_sampled_mb": round(max(samples, default=0.0), 1),
        "rss_after_mb": round(after["VmRSS"], 1),
        "uploads_ok": sum(1 for r in results if r["status"] == 200),
        "answered_503": sum(r["refused_503"] for r in results),
        "frames_stored": sum(r.get("stored", 0) for r in results),
        "seconds_until_all_stored": round(elapsed, 2),
        "statuses": [r["status"] for r in results],
    }


def run(args: argparse.Namespace) -> int:
    import shutil

    bodies = _bodies(args.uploads, args.mb)
    frames = sum(int.from_bytes(b[3:7], "little") for b in bodies)
    workdir = Path(tempfile.mkdtemp(prefix="iomt-bench-bodies-"))
    try:
        baseline = _one_run(workdir / "baseline", bodies, 0, args.wait_s)
        limited = _one_run(workdir / "limited", bodies, args.slots, args.wait_s)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    result = {"uploads": args.uploads, "mb_each": round(len(bodies[0]) / 1e6, 1), "frames_sent": frames,
              "baseline_no_limit": baseline, "limited": limited, "cpus": os.cpu_count(),
              "load_avg": list(os.getloadavg())}
    for name in ("baseline_no_limit", "limited"):
        r = result[name]
        sys.stdout.write(
            f"{name:18s} RSS {r['rss_before_mb']} -> peak {r['rss_peak_mb']} MB (after {r['rss_after_mb']} MB)  "
            f"{r['uploads_ok']}/{args.uploads} stored ({r['frames_stored']}/{frames} frames), "
            f"{r['answered_503']} answered 503 first, {r['seconds_until_all_stored']} s\n"
        )
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0
