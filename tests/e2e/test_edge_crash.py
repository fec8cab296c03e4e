"""SIGKILL the edge mid-stream, restart it: everything that was in its outbox, and everything
published while it was dead, reaches the store exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest

from firmware_sim.ecg import EcgSynth
from gateway.auth import EdgeTokens
from gateway.config import GatewayConfig
from gateway.server import running_gateway
from gateway.store.base import EventQuery
from iomt.config import MqttConfig
from iomt.transport.mqtt import MqttBus
from iomt.wire import topics
from iomt.wire.events import decode_event
from iomt.wire.frames import encode_frame, make_frame
from iomt.wire.uplink import RecordKind
from tests.integration.helpers import T0_US, wait_until
from testsupport.net import free_port
from testsupport.services import Mosquitto

pytestmark = pytest.mark.slow

DEVICES = [f"icu-{i}" for i in range(5)]
RATE = 250.0


def start_edge(broker: str, gateway_port: int, outbox: Path, site: str, token_file: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "iomt_app", "--log-level", "ERROR", "edge", "--broker", broker, "--gateway",
         f"http://127.0.0.1:{gateway_port}", "--outbox", str(outbox), "--site", site, "--node-id", "crashy"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "IOMT_EDGE__UPLINK_TOKEN_FILE": str(token_file)},
    )


def outbox_contents(path: Path) -> tuple[int, set[str]]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        frames = db.execute("SELECT COUNT(*) FROM outbox WHERE kind = ?", (int(RecordKind.FRAME),)).fetchone()[0]
        events = {decode_event(bytes(row[0])).event_id for row in
                  db.execute("SELECT payload FROM outbox WHERE kind = ?", (int(RecordKind.EVENT),))}
    finally:
        db.close()
    return int(frames), events


def publish(bus: MqttBus, site: str, synths: dict[str, EcgSynth], seqs: range) -> None:
    deliveries = []
    for seq in seqs:
        for device in DEVICES:
            raw = np.round(synths[device].render(int(RATE / 2)) / 0.001).astype(np.int16)
            frame = make_frame(device, "ecg", seq, T0_US + seq * 500_000, RATE, raw, 0.001)
            deliveries.append(bus.publish(topics.data(site, device, "ecg"), encode_frame(frame)))
    assert all(d.wait(10) for d in deliveries)


async def test_sigkill_and_restart_lose_nothing_and_duplicate_nothing(tmp_path: Path) -> None:
    site = f"crash{uuid.uuid4().hex[:6]}"
    outbox = tmp_path / "outbox.sqlite"
    gateway_port = free_port()
    synths = {d: EcgSynth(RATE, 60.0 + 5 * i, np.random.default_rng(i)) for i, d in enumerate(DEVICES)}
    config = GatewayConfig(port=gateway_port, db_path=tmp_path / "store.sqlite")
    token_file = tmp_path / "crashy.uplink-token"
    tokens = EdgeTokens(config.state_file())
    token_file.write_text(tokens.issue("crashy") + "\n")
    tokens.close()
    with Mosquitto() as broker:
        edge = start_edge(broker.url, gateway_port, outbox, site, token_file)
        bus = MqttBus(MqttConfig(url=broker.url, reconnect_max_s=1.0), f"pub-{site}")
        await asyncio.to_thread(bus.start)
        try:
            # phase 1: the gateway is down, so everything the edge handles waits in its outbox
            await wait_until(lambda: outbox.exists(), 20, "the edge to create its outbox")
            await asyncio.sleep(1.0)  # subscribed (persistent session) once its availability is online
            await asyncio.to_thread(publish, bus, site, synths, range(40))
            await wait_until(lambda: outbox_contents(outbox)[0] == 40 * len(DEVICES), 30, "frames in the outbox")
            await wait_until(lambda: len(outbox_contents(outbox)[1]) > 0, 30, "heart-rate events in the outbox")
            edge.send_signal(signal.SIGKILL)
            edge.wait()
            frames_at_kill, events_at_kill = outbox_contents(outbox)
            assert frames_at_kill == 40 * len(DEVICES)
            # phase 2: published while the edge is dead; the broker keeps them for its session
            await asyncio.to_thread(publish, bus, site, synths, range(40, 60))
            async with running_gateway(config) as gateway:
                edge = start_edge(broker.url, gateway_port, outbox, site, token_file)
                store = gateway.store
                await wait_until(lambda: store.count("frames") >= 60 * len(DEVICES), 60, "every frame stored")
                await wait_until(lambda: outbox_contents(outbox)[0] == 0, 30, "the outbox to drain")
                for device in DEVICES:
                    assert store.stored_sequences(device, "ecg") == list(range(60)), device
                assert store.count("frames") == 60 * len(DEVICES)
                stored_events = {e.event_id for e in store.events(EventQuery(limit=100_000))}
                assert events_at_kill <= stored_events
                assert all(s.duplicates == 0 for s in store.stream_stats())
        finally:
            await asyncio.to_thread(bus.stop)
            if edge.poll() is None:
                edge.terminate()
                edge.wait(30)


def MqttConfig_for(url: str) -> object:
    from iomt.config import MqttConfig

    return MqttConfig(url=url, reconnect_max_s=1.0)
