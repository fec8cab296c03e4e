"""``iomt bench dashboard``: does the live page stay smooth with N patients streaming?

Runs a gateway (SQLite in a temp dir), feeds it like an edge would (every 200 ms, 0.2 s of 250 Hz ECG
and 50 Hz motion per patient through ``POST /api/v1/uplink``, a heart rate and a vitals reading each
second, so every tile's numerics and NEWS2 update and the gateway scores NEWS2 and checks the alarm limits
on ingest; with ``--alarming F`` that share of the patients drifts into NEWS2 and limit alarms during the
measured window, so alarms arrive and tiles reorder) and opens the central station in headless Debian
Chromium (selenium + chromedriver). In the page it records
animation-frame intervals and long tasks: first with the page open and no data (the baseline),
then while the N patients stream. Needs the ``dev`` extra (selenium) and ``chromium``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

PROBE = """
window.__probe = {frames: [], long: 0, longMs: 0};
(function loop(t) { window.__probe.frames.push(t); requestAnimationFrame(loop); })(performance.now());
try { new PerformanceObserver(l => { for (const e of l.getEntries()) { window.__probe.long++;
  window.__probe.longMs += e.duration; } }).observe({entryTypes: ['longtask']}); } catch (e) {}
"""
COLLECT = """
const p = window.__probe, f = p.frames, d = [];
for (let i = 1; i < f.length; i++) d.push(f[i] - f[i - 1]);
const out = {intervals: d, long: p.long, longMs: p.longMs, drawn: window.iomtStats.drawn,
             waves: window.iomtStats.waves, vitals: window.iomtStats.vitals, polls: window.iomtStats.stationPolls,
             wsMs: window.iomtStats.wsMs, drawMs: window.iomtStats.drawMs,
             refreshMs: window.iomtStats.refreshMs, parseMs: window.iomtStats.parseMs,
             alertMs: window.iomtStats.alertMs,
             cards: document.querySelectorAll('#grid .card').length,
             heap: performance.memory ? performance.memory.usedJSHeapSize : null};
p.frames = [performance.now()]; p.long = 0; p.longMs = 0; window.iomtStats.drawn = 0; window.iomtStats.waves = 0;
Object.assign(window.iomtStats, {wsMs: 0, drawMs: 0, refreshMs: 0, parseMs: 0, alertMs: 0, vitals: 0,
                                 stationPolls: 0});
return out;
"""
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1600,1000", "--enable-precise-memory-info")


def register(targets: Any) -> None:
    p: argparse.ArgumentParser = targets.add_parser("dashboard", help="live page frame rate with N patients")
    p.add_argument("--json", type=Path, metavar="FILE", help="write the figures as JSON here")
    p.add_argument("--patients", type=int, default=200, help="patients streaming")
    p.add_argument("--seconds", type=float, default=10.0, help="seconds measured (baseline and loaded each)")
    p.add_argument("--alarming", type=float, default=0.1,
                   help="share of the patients that deteriorate into alarms while measured (0: a steady ward)")
    p.set_defaults(func=run)


def _figures(sample: dict[str, Any], seconds: float) -> dict[str, Any]:
    d = np.asarray(sample["intervals"], dtype=np.float64)
    return {
        "fps": round(d.size / seconds, 1),
        "frame_ms_p50": round(float(np.percentile(d, 50)), 1) if d.size else None,
        "frame_ms_p95": round(float(np.percentile(d, 95)), 1) if d.size else None,
        "frame_ms_max": round(float(d.max()), 1) if d.size else None,
        "long_tasks": sample["long"], "long_task_ms": round(sample["longMs"], 1),
        "traces_drawn_per_s": round(sample["drawn"] / seconds, 1),
        "wave_frames_per_s": round(sample["waves"] / seconds, 1), "cards": sample["cards"],
        "vitals_readings_per_s": round(sample["vitals"] / seconds, 1),
        "station_polls_per_s": round(sample["polls"] / seconds, 2),
        "script_ms_per_s": {name: round(sample[key] / seconds, 1)
                            for name, key in (("live_feed", "wsMs"), ("drawing", "drawMs"),
                                              ("station_poll", "refreshMs"), ("poll_json", "parseMs"),
                                              ("alarm_list", "alertMs"))},
        "js_heap_mb": round(sample["heap"] / 2**20, 1) if sample["heap"] else None,
    }


def _vitals(patient: int, seq: int, alarming: float) -> dict[str, float]:
    """A vitals reading; the ``alarming`` share of the patients climbs over 8 s into NEWS2 and limit alarms."""
    every = round(1 / alarming) if alarming > 0 else 0
    drift = min(1.0, max(0.0, (seq / 5 - 1) / 8)) if every and patient % every == every - 1 else 0.0
    return {"hr": 72.0 + 50 * drift + patient % 7, "spo2": 97.0 - 5 * drift, "bp_sys": 125.0 - 25 * drift,
            "bp_dia": 80.0, "temp_c": 36.8 + 1.5 * drift, "resp_rate": 15.0 + 10 * drift}


async def _feed(url: str, token: str, patients: int, stop: asyncio.Event, alarming: float = 0.0) -> None:
    import aiohttp

    from iomt.wire.events import Event, EventKind, encode_event
    from iomt.wire.frames import Reading, encode_frame, encode_reading, make_frame
    from iomt.wire.uplink import CONTENT_TYPE, RecordKind, UplinkRecord, encode_batch

    devices = [f"bed-{i:03d}" for i in range(patients)]
    t0 = time.time_ns() // 1000
    async with aiohttp.ClientSession() as http:
        seq = 0
        while not stop.is_set():
            t = t0 + seq * 200_000
            n = np.arange(50) + seq * 50
            ecg = (np.exp(-(((n % 200) - 20) ** 2) / 8.0) * 1000 + 30 * np.sin(n / 40)).astype(np.int16)
            acc = np.tile(np.array([0, 0, 1000], np.int16), (10, 1))
            records = [UplinkRecord(RecordKind.FRAME, encode_frame(make_frame(d, "ecg", seq, t, 250.0, ecg, 0.001)))
                       for d in devices]
            records += [UplinkRecord(RecordKind.FRAME, encode_frame(make_frame(d, "acc", seq, t, 50.0, acc, 0.001)))
                        for d in devices]
            if seq % 5 == 0:
                records += [UplinkRecord(RecordKind.EVENT, encode_event(Event(
                    device=d, model="heart_rate", model_version="1", kind=EventKind.INFERENCE, label="ok", score=1.0,
                    window_start_us=t - 1_000_000, window_end_us=t, t_us=t, value=75.0, node="bench-edge")))
                    for d in devices]
                records += [UplinkRecord(RecordKind.READING,
                                         encode_reading(Reading(d, "vitals", seq // 5, t, _vitals(i, seq, alarming))))
                            for i, d in enumerate(devices)]
            async with http.post(f"{url}/api/v1/uplink", data=encode_batch(records),
                                 headers={"Content-Type": CONTENT_TYPE, "Authorization": f"Bearer {token}"}) as r:
                r.raise_for_status()
            seq += 1
            next_at = t0 / 1e6 + seq * 0.2
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(0.0, next_at - time.time()))


async def _measure(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    from gateway.config import GatewayConfig
    from gateway.server import running_gateway

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in (*FLAGS, f"--user-data-dir={workdir / 'profile'}"):
        options.add_argument(flag)
    async with running_gateway(GatewayConfig(port=0, db_path=workdir / "gw.sqlite")) as gw:
        driver = await asyncio.to_thread(
            webdriver.Chrome, service=Service(executable_path="/usr/bin/chromedriver"), options=options
        )
        try:
            token = await asyncio.to_thread(_sign_in, driver, gw)
            await asyncio.to_thread(driver.execute_script, PROBE)
            await asyncio.sleep(args.seconds)
            baseline = _figures(await asyncio.to_thread(driver.execute_script, COLLECT), args.seconds)
            stop = asyncio.Event()
            feeder = asyncio.ensure_future(_feed(gw.url, token, args.patients, stop, args.alarming))
            try:
                await asyncio.sleep(3.0)  # cards created, traces filling
                await asyncio.to_thread(driver.execute_script, COLLECT)
                cpu = time.process_time()
                await asyncio.sleep(args.seconds)
                loaded = _figures(await asyncio.to_thread(driver.execute_script, COLLECT), args.seconds)
                # the gateway and the feeder share this process: their CPU competes with the browser's
                loaded["gateway_and_feeder_cpu_s_per_s"] = round((time.process_time() - cpu) / args.seconds, 2)
            finally:
                stop.set()
                await feeder
        finally:
            await asyncio.to_thread(driver.quit)
    return {"patients": args.patients, "seconds": args.seconds, "alarming": args.alarming,
            "baseline_idle_page": baseline, "streaming": loaded, "load_avg": list(os.getloadavg()),
            "cpus": os.cpu_count()}


def _sign_in(driver: Any, gw: Any) -> str:
    """A viewer signs in through the login page (the dashboard needs a session); returns the uplink
    token of the bench's edge."""
    from selenium.webdriver.support.wait import WebDriverWait

    from gateway.auth.context import EDGE_AUTHORITY, USERS
    from gateway.auth.edges import EdgeTokens

    password = "bench viewer password"
    gw.app[USERS].add("bench", "viewer", password)
    driver.get(f"{gw.url}/login")
    driver.execute_script("document.getElementById('username').value = 'bench';"
                          f"document.getElementById('password').value = {password!r};"
                          "document.getElementById('submit').click();")
    WebDriverWait(driver, 15).until(lambda d: d.execute_script(
        "return location.pathname === '/' && window.iomtStats !== undefined"))
    authority = gw.app[EDGE_AUTHORITY]
    assert isinstance(authority, EdgeTokens)
    return authority.issue("bench-edge")


def run(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="iomt-bench-dashboard-"))
    try:
        result = asyncio.run(_measure(args, workdir))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    for name in ("baseline_idle_page", "streaming"):
        r = result[name]
        sys.stdout.write(
            f"{name:18s} {r['fps']:5.1f} fps  frame p50 {r['frame_ms_p50']} ms p95 {r['frame_ms_p95']} ms "
            f"max {r['frame_ms_max']} ms  long tasks {r['long_tasks']} ({r['long_task_ms']} ms)  "
            f"cards {r['cards']}  traces drawn/s {r['traces_drawn_per_s']}  vitals/s {r['vitals_readings_per_s']}  "
            f"heap {r['js_heap_mb']} MB  "
            f"script ms/s {r['script_ms_per_s']}\n"
        )
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0
