"""``iomt bench faults``: loss in the fault cases of issue 12 (points 5 and 6), end to end.

A real mosquitto, the gateway (SQLite) and an edge node in this process, devices publishing ECG
frames through paho:

* ``restart``: a device sends ``--frames`` frames, restarts (a new boot id, its sequence back at 0)
  and sends as many again;
* ``forged``: a device sends ``--frames`` frames, one forged frame with sequence 4e9 arrives, then the
  device goes on with ``--frames`` more;
* ``poison``: ``--patients`` patients send ``--frames`` frames each while one reading per patient
  with ``"t": 1e308`` arrives among them, in the same processing cycles.

Per case it reports what was published, stored, lost (honest frames not stored), and of the honest
frames those the edge did not analyse (classified duplicate, stale or jump instead of in order:
before issue 12 a restart or a forged number made every later frame a "duplicate").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from edge.config import EdgeConfig
from edge.node import EdgeNode
from gateway.config import GatewayConfig
from gateway.server import running_gateway
from iomt.config import MqttConfig
from iomt.transport.mqtt import MqttBus
from iomt.wire import topics
from iomt.wire.frames import encode_frame, make_frame
from testsupport.services import Mosquitto

T0_US = 1_764_000_000_000_000
RAW = (np.sin(np.arange(125) / 4) * 800).astype(np.int16)


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("faults", help="loss on device restart, forged sequence, poison")
    p.add_argument("--frames", type=int, default=30, help="frames per device per phase")
    p.add_argument("--patients", type=int, default=20, help="patients in the poison case")
    p.add_argument("--json", type=Path, help="write the results here")
    p.set_defaults(func=run)


def frame(device: str, seq: int, boot: int, t_index: int) -> bytes:
    return encode_frame(make_frame(device, "ecg", seq, T0_US + t_index * 500_000, 250.0, RAW, 0.001, boot=boot))


def cases(site: str, frames: int, patients: int) -> dict[str, tuple[list[tuple[str, bytes]], dict[str, int]]]:
    """case -> (messages in order, honest frames per device)."""
    def data(device: str) -> str:
        return topics.data(site, device, "ecg")

    restart = [(data("restart"), frame("restart", s, 0xA1, s)) for s in range(frames)]
    restart += [(data("restart"), frame("restart", s, 0xB2, frames + 10 + s)) for s in range(frames)]
    forged = [(data("forged"), frame("forged", s, 7, s)) for s in range(frames)]
    forged.append((data("forged"), frame("forged", 4_000_000_000, 7, 0)))
    forged += [(data("forged"), frame("forged", s, 7, s)) for s in range(frames, 2 * frames)]
    poison: list[tuple[str, bytes]] = []
    for seq in range(frames):
        for p in range(patients):
            device = f"poison{p:03d}"
            poison.append((data(device), frame(device, seq, 3, seq)))
            if seq == frames // 2:
                bad = {"v": 1, "device": device, "stream": "vitals", "seq": 0, "t": 1e308, "values": {"hr": 70}}
                poison.append((topics.data(site, device, "vitals"), json.dumps(bad).encode()))
    return {
        "restart": (restart, {"restart": 2 * frames}),
        "forged": (forged, {"forged": 2 * frames}),
        "poison": (poison, {f"poison{p:03d}": frames for p in range(patients)}),
    }


async def run_case(name: str, messages: list[tuple[str, bytes]], honest: dict[str, int], workdir: Path,
                   broker: Mosquitto, site: str) -> dict[str, Any]:
    config = GatewayConfig(port=0, db_path=workdir / f"{name}.sqlite", mqtt=MqttConfig(url=broker.url))
    async with running_gateway(config) as gateway:
        edge_config: dict[str, Any] = {
            "node_id": f"edge-{site}", "site": site, "mqtt": MqttConfig(url=broker.url, reconnect_max_s=1.0),
            "gateway_url": gateway.url, "outbox_path": workdir / f"{name}-outbox.sqlite", "min_cycle_ms": 200,
        }
        edge_config["uplink_token"] = _token(gateway, f"edge-{site}")
        node = await asyncio.to_thread(lambda: EdgeNode(EdgeConfig(**edge_config)).start())
        publisher = MqttBus(MqttConfig(url=broker.url), f"faults-{site}")
        try:
            await asyncio.to_thread(publisher.start)
            deliveries = [publisher.publish(t, p) for t, p in messages]
            acked = all([await asyncio.to_thread(d.wait, 20) for d in deliveries])
            await asyncio.to_thread(_settle, node, len(messages), 30.0)
            store: Any = gateway.store  # stored_sequences: both backends' inspection helper (no role)
            stored = {d: len([q for q in store.stored_sequences(d, "ecg") if q < 2**31]) for d in honest}
            counters = node.processor.counters
            return {
                "published": len(messages), "all_acknowledged_by_broker": acked,
                "honest_frames": sum(honest.values()),
                "stored": sum(stored.values()),
                "lost": sum(max(0, n - stored[d]) for d, n in honest.items()),
                "not_analysed": sum(honest.values()) - counters.analysed,
                "dead_letters": counters.dead_letter,
                "edge_sequence": node.processor.sequences.totals(),
                "store_missing": sum(s.missing for s in store.stream_stats() if s.device in honest),
            }
        finally:
            await asyncio.to_thread(publisher.stop)
            await asyncio.to_thread(node.stop)


def _settle(node: EdgeNode, messages: int, timeout_s: float) -> None:
    """Until the edge has handled every message and its outbox is drained (or ``timeout_s``)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and (node.processor.counters.messages < messages or node.outbox.pending):
        time.sleep(0.2)
    time.sleep(0.5)


def _token(gateway: Any, node: str) -> str:
    from gateway.auth.context import EDGE_AUTHORITY

    return str(gateway.app[EDGE_AUTHORITY].issue(node))


async def _main(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="iomt-faults-") as tmp, Mosquitto() as broker:
        for name in ("restart", "forged", "poison"):
            site = f"{name}{uuid.uuid4().hex[:6]}"
            messages, honest = cases(site, args.frames, args.patients)[name]
            results[name] = await run_case(name, messages, honest, Path(tmp), broker, site)
            sys.stdout.write(f"{name}: {json.dumps(results[name])}\n")
            sys.stdout.flush()
    return results


def run(args: argparse.Namespace) -> int:
    results = asyncio.run(_main(args))
    if args.json:
        args.json.write_text(json.dumps({"frames": args.frames, "patients": args.patients, "cases": results},
                                        indent=2))
    return 0 if all(r["lost"] == 0 and r["not_analysed"] == 0 for r in results.values()) else 1
