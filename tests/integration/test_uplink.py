"""The outbox holds everything while the gateway is away and delivers it exactly once when it returns."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import numpy as np

from gateway.auth import EdgeTokens
from gateway.config import GatewayConfig
from gateway.server import running_gateway
from iomt.config import MqttConfig
from iomt.transport.mqtt import MqttBus
from iomt.wire import topics
from iomt.wire.frames import encode_frame, make_frame
from iomt.wire.uplink import RecordKind
from tests.integration.helpers import T0_US, edge_config, start_edge, wait_until
from testsupport.net import free_port


async def test_records_wait_in_the_outbox_until_the_gateway_acknowledges(
    tmp_path: Path, mqtt_config: MqttConfig
) -> None:
    site = f"up{uuid.uuid4().hex[:8]}"
    port = free_port()
    gateway_config = GatewayConfig(port=port, db_path=tmp_path / "late-gateway.sqlite")
    tokens = EdgeTokens(gateway_config.state_file())  # the edge is enrolled before either runs
    token = tokens.issue(f"edge-{site}")
    tokens.close()
    config = edge_config(tmp_path, mqtt_config, f"http://127.0.0.1:{port}", site, uplink_token=token)
    node = await start_edge(config)
    publisher = await asyncio.to_thread(lambda: MqttBus(mqtt_config, f"pub-{site}").start())
    try:
        frames = 30
        for seq in range(frames):
            acc = np.full((25, 3), seq, dtype=np.int16)
            payload = encode_frame(make_frame("patient-9", "acc", seq, T0_US + seq * 500_000, 50.0, acc, 1 / 4096))
            publisher.publish(topics.data(site, "patient-9", "acc"), payload)
        def frames_waiting() -> int:
            return sum(1 for _, record in node.outbox.peek(10_000) if record.kind is RecordKind.FRAME)

        await wait_until(lambda: frames_waiting() == frames, 15, "all frames in the outbox")
        await asyncio.sleep(0.5)
        assert frames_waiting() == frames  # nothing deleted without an acknowledgement
        assert node.uplink.stats.failures >= 1

        async with running_gateway(gateway_config) as gateway:
            await wait_until(lambda: node.outbox.depth() == 0, 15, "the outbox to drain")
            assert gateway.store.stored_sequences("patient-9", "acc") == list(range(frames))
            assert gateway.store.count("frames") == frames
    finally:
        await asyncio.to_thread(publisher.stop)
        await asyncio.to_thread(node.stop, 1.0)
