"""``iomt bench broker-restart``: frames lost end to end when the broker is SIGKILLed and restarted
on the same port while devices keep publishing QoS 1 and the edge is still on its way back.

One case: a real mosquitto, the gateway (SQLite) in this process, an edge node (``iomt edge``) in
its own, and devices publishing ECG frames with sequence numbers through paho. Mid-stream the
broker is killed (``kill -9``) and started again; the edge is held (SIGSTOP) for ``--away`` seconds
so the devices reconnect and publish before it re-subscribes; then it is released. Loss is counted
from the sequence numbers in the store against what was published. It runs with mosquitto's
persistence as every broker we start has it (saved every 2 s) and, as the baseline in the same
run, without persistence (what the demo, the tests and compose had before).

Then what the save policy itself leaves to a crash: ``--queued`` messages acknowledged while their
subscriber is away, the broker killed at once (inside the autosave interval: ``autosave_interval 1``
saves every 2 s, as mosquitto compares whole seconds) and 3 s after the last acknowledgement.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from gateway.auth import EdgeTokens
from gateway.config import GatewayConfig
from gateway.server import running_gateway
from iomt.config import MqttConfig
from iomt.transport import Delivery, ReceivedMessage
from iomt.transport.mqtt import MqttBus
from iomt.wire import topics
from iomt.wire.frames import encode_frame, make_frame
from testsupport.net import free_port
from testsupport.services import Mosquitto

RATE_HZ = 250.0
T0_US = 1_764_000_000_000_000


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "broker-restart", help="frames lost when the broker is killed and restarted (persistence vs none)")
    p.add_argument("--devices", type=int, default=5)
    p.add_argument("--frames-per-s", type=float, default=10.0, help="frames per second per device")
    p.add_argument("--before", type=float, default=4.0, help="seconds of publishing before the kill")
    p.add_argument("--away", type=float, default=3.0, help="seconds the edge stays away after the restart")
    p.add_argument("--after", type=float, default=4.0, help="seconds of publishing after the edge is back")
    p.add_argument("--queued", type=int, default=2000, help="messages queued for an offline session, then SIGKILL")
    p.add_argument("--json", type=Path, help="write the results here")
    p.set_defaults(func=run)


class Devices:
    """Devices publishing ECG frames through one paho client, paced, in a thread."""

    def __init__(self, url: str, site: str, devices: int, frames_per_s: float) -> None:
        self.site = site
        self.names = [f"restart-{i}" for i in range(devices)]
        self.period = 1.0 / frames_per_s
        self.samples = max(1, round(RATE_HZ * self.period))
        self.bus = MqttBus(MqttConfig(url=url, reconnect_max_s=1.0), f"devices-{site}")
        self.published = 0
        self.deliveries: list[Delivery] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="devices", daemon=True)
        rng = np.random.default_rng(0)
        self._noise = np.round(rng.normal(0, 100, 4096)).astype(np.int16)

    def start(self) -> None:
        self.bus.start()
        self._thread.start()

    def _run(self) -> None:
        seq = 0
        next_at = time.monotonic()
        while not self._stop.is_set():
            for device in self.names:
                raw = np.roll(self._noise, seq)[: self.samples]
                frame = make_frame(device, "ecg", seq, T0_US + round(seq * self.period * 1e6), RATE_HZ, raw, 0.001)
                self.deliveries.append(self.bus.publish(topics.data(self.site, device, "ecg"), encode_frame(frame)))
            seq += 1
            self.published = seq
            next_at += self.period
            time.sleep(max(0.0, next_at - time.monotonic()))

    def finish(self, timeout_s: float = 60.0) -> bool:
        """Stop publishing; True when the broker acknowledged every frame."""
        self._stop.set()
        self._thread.join()
        deadline = time.monotonic() + timeout_s
        acked = all(d.wait(max(0.1, deadline - time.monotonic())) for d in self.deliveries)
        self.bus.stop()
        return acked


def _wait_online(url: str, site: str, node: str, timeout_s: float) -> bool:
    seen = threading.Event()

    def on_availability(message: ReceivedMessage) -> None:
        if message.payload == b"online":
            seen.set()

    watcher = MqttBus(MqttConfig(url=url), f"watch-{uuid.uuid4().hex[:8]}")
    watcher.subscribe(topics.availability(site, node), on_availability)
    watcher.start()
    try:
        return seen.wait(timeout_s)
    finally:
        watcher.stop()


def _stored(db_path: Path, devices: list[str]) -> dict[str, set[int]]:
    """The ECG sequence numbers of ``devices`` in the gateway's SQLite store (read directly, as an
    outside observer would)."""
    with contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)) as db:
        return {d: {int(r[0]) for r in db.execute("SELECT seq FROM frames WHERE device = ? AND stream = 'ecg'", (d,))}
                for d in devices}


def _edge_token(config: GatewayConfig, node: str, workdir: Path) -> Path:
    """The edge's uplink credential at this gateway, in an owner-only file (never on a command line)."""
    tokens = EdgeTokens(config.state_file())
    try:
        token = tokens.issue(node)
    finally:
        tokens.close()
    path = workdir / f"{node}.uplink-token"
    path.touch(mode=0o600)
    path.write_text(token + "\n")
    return path


async def restart_case(
    persistence: bool, workdir: Path, *, devices: int = 5, frames_per_s: float = 10.0, before_s: float = 4.0,
    away_s: float = 3.0, after_s: float = 4.0, drain_s: float = 60.0,
) -> dict[str, Any]:
    """Run one case (see the module docstring); its figures."""
    site = f"restart{uuid.uuid4().hex[:6]}"
    node = "restart-edge"
    broker = Mosquitto(workdir=workdir / "mosquitto", persistence=persistence)
    broker.workdir.mkdir(parents=True, exist_ok=True)
    broker.start()
    gateway_port = free_port()
    edge: asyncio.subprocess.Process | None = None
    try:
        config = GatewayConfig(port=gateway_port, db_path=workdir / "store.sqlite")
        token_file = _edge_token(config, node, workdir)
        async with running_gateway(config) as gateway:
            edge = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "iomt_app", "--log-level", "ERROR", "edge", "--broker", broker.url,
                "--gateway", gateway.url, "--outbox", str(workdir / "outbox.sqlite"), "--site", site,
                "--node-id", node, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
                env={**os.environ, "IOMT_EDGE__UPLINK_TOKEN_FILE": str(token_file)},
            )
            if not await asyncio.to_thread(_wait_online, broker.url, site, node, 60.0):
                raise RuntimeError("the edge node did not come online")
            load = Devices(broker.url, site, devices, frames_per_s)
            await asyncio.to_thread(load.start)
            await asyncio.sleep(before_s)
            broker.kill()
            edge.send_signal(signal.SIGSTOP)  # still on its way back when the devices return
            killed_at = load.published
            await asyncio.to_thread(broker.start)
            await asyncio.sleep(away_s)
            edge.send_signal(signal.SIGCONT)
            await asyncio.sleep(after_s)
            acked = await asyncio.to_thread(load.finish)
            expected = load.published * devices
            db_path = config.db_path
            deadline = time.monotonic() + drain_s
            last, last_change = -1, time.monotonic()
            while time.monotonic() < deadline:
                have = sum(len(s) for s in (await asyncio.to_thread(_stored, db_path, load.names)).values())
                if have >= expected:
                    break
                if have != last:
                    last, last_change = have, time.monotonic()
                elif time.monotonic() - last_change > 10.0:
                    break  # nothing moved for 10 s: what is missing is lost
                await asyncio.sleep(0.2)
            stored = await asyncio.to_thread(_stored, db_path, load.names)
    finally:
        if edge is not None and edge.returncode is None:
            edge.send_signal(signal.SIGCONT)
            edge.terminate()
            try:
                await asyncio.wait_for(edge.wait(), 30)
            except TimeoutError:
                edge.kill()
                await edge.wait()
        broker.stop()
    published = load.published
    lost = {d: sorted(set(range(published)) - set(seqs)) for d, seqs in stored.items()}
    lost_total = sum(len(v) for v in lost.values())
    return {
        "persistence": persistence,
        "devices": devices,
        "published": published * devices,
        "all_acknowledged_by_broker": acked,
        "frames_before_kill": killed_at * devices,
        "stored": sum(len(s) for s in stored.values()),
        "lost": lost_total,
        "lost_pct": round(100.0 * lost_total / max(1, published * devices), 2),
        "lost_sequences": {d: v for d, v in lost.items() if v},
    }


def queued_kill_case(workdir: Path, messages: int, wait_s: float, persistence: bool = True) -> dict[str, Any]:
    """What a SIGKILL loses of the messages queued for an offline persistent session: ``messages``
    QoS 1 messages are acknowledged by the broker while the subscriber is away, the broker is killed
    ``wait_s`` after the last acknowledgement and restarted, and the subscriber counts what it gets."""
    broker = Mosquitto(workdir=workdir, persistence=persistence)
    workdir.mkdir(parents=True, exist_ok=True)
    broker.start()
    received: set[int] = set()
    lock = threading.Lock()

    def on_message(message: ReceivedMessage) -> None:
        with lock:
            received.add(int(message.payload))

    config = MqttConfig(url=broker.url, reconnect_max_s=1.0)
    try:
        away = MqttBus(config, "queued-subscriber", clean_session=False)
        away.subscribe("iomt/v1/queued/#", on_message)
        away.start()
        time.sleep(3.0)  # its subscription is saved (every 2 s)
        away.stop()
        with MqttBus(config, "queued-publisher") as pub:
            deliveries = [pub.publish(f"iomt/v1/queued/d/{i % 10}", str(i).encode()) for i in range(messages)]
            acked = all(d.wait(30) for d in deliveries)
        time.sleep(wait_s)
        broker.kill()
        broker.start()
        back = MqttBus(config, "queued-subscriber", clean_session=False)
        back.subscribe("iomt/v1/queued/#", on_message)
        back.start()
        deadline = time.monotonic() + 10
        last, quiet_since = -1, time.monotonic()
        while time.monotonic() < deadline and len(received) < messages:
            if len(received) != last:
                last, quiet_since = len(received), time.monotonic()
            elif time.monotonic() - quiet_since > 2.0:
                break
            time.sleep(0.05)
        back.stop()
    finally:
        broker.stop()
    lost = messages - len(received)
    return {"persistence": persistence, "messages": messages, "kill_after_last_ack_s": wait_s,
            "all_acknowledged_by_broker": acked, "lost": lost, "lost_pct": round(100.0 * lost / messages, 2)}


def run(args: argparse.Namespace) -> int:
    results = []
    for persistence in (False, True):
        with tempfile.TemporaryDirectory(prefix="iomt-bench-restart-") as tmp:
            result = asyncio.run(restart_case(
                persistence, Path(tmp), devices=args.devices, frames_per_s=args.frames_per_s, before_s=args.before,
                away_s=args.away, after_s=args.after))
        results.append(result)
        shown = {k: v for k, v in result.items() if k != "lost_sequences"}
        sys.stdout.write(f"{'persistence' if persistence else 'no persistence (baseline)'}: {json.dumps(shown)}\n")
    out: dict[str, Any] = {"baseline": results[0], "persistence": results[1], "sigkill_of_queued": []}
    for wait_s in (0.0, 3.0):
        with tempfile.TemporaryDirectory(prefix="iomt-bench-queued-") as tmp:
            queued = queued_kill_case(Path(tmp), args.queued, wait_s)
        out["sigkill_of_queued"].append(queued)
        sys.stdout.write(f"SIGKILL {wait_s:g} s after the last of {args.queued} queued messages: "
                         f"{json.dumps(queued)}\n")
    if args.json is not None:
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return 0
