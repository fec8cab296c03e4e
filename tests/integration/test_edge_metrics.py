"""The edge's Prometheus endpoint reports what it did."""

from __future__ import annotations

import asyncio
import urllib.request
import uuid
from pathlib import Path

import numpy as np

from iomt.config import MqttConfig
from iomt.transport.mqtt import MqttBus
from iomt.wire import topics
from iomt.wire.frames import encode_frame, make_frame
from tests.integration.helpers import T0_US, edge_config, enrol, start_edge, wait_until
from testsupport.net import free_port


def scrape(port: int) -> str:
    return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()


def value(text: str, prefix: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix))


async def test_metrics_count_messages_windows_inferences_and_rejections(
    tmp_path: Path, mqtt_config: MqttConfig, gateway: object
) -> None:
    site = f"met{uuid.uuid4().hex[:6]}"
    port = free_port()
    config = edge_config(tmp_path, mqtt_config, gateway.url, site, metrics_port=port,  # type: ignore[attr-defined]
                         uplink_token=enrol(gateway, f"edge-{site}"),
                         models=("fall",), fall_screen_g=1.0)  # |a| of 1 g: a burst every second
    node = await start_edge(config)
    bus = await asyncio.to_thread(lambda: MqttBus(mqtt_config, f"pub-{site}").start())
    try:
        rng = np.random.default_rng(0)
        for k in range(10):
            acc = np.column_stack([rng.normal(0, .05, 25), rng.normal(0, .05, 25), 1 + rng.normal(0, .05, 25)])
            frame = make_frame("p1", "acc", k, T0_US + k * 500_000, 50.0, np.round(acc * 4096).astype(np.int16),
                               1 / 4096)
            bus.publish(topics.data(site, "p1", "acc"), encode_frame(frame))
        bus.publish(topics.data(site, "p1", "acc"), b"IM\x09broken")
        late = make_frame("p1", "acc", 12, T0_US + 12 * 500_000, 50.0, np.zeros((25, 3), dtype=np.int16), 1 / 4096)
        bus.publish(topics.data(site, "p1", "acc"), encode_frame(late))  # seq 10 and 11 never come
        await wait_until(lambda: value(scrape(port), 'iomt_edge_messages_total{result="accepted"}') == 11, 15,
                         "every message to be counted")
        text = await asyncio.to_thread(scrape, port)
    finally:
        await asyncio.to_thread(bus.stop)
        await asyncio.to_thread(node.stop, 1.0)
    assert value(text, 'iomt_edge_messages_total{result="accepted"}') == 11
    assert value(text, 'iomt_edge_sequence_total{kind="missing"}') == 2
    windows = value(text, 'iomt_edge_windows_total{model="fall"}')
    assert windows >= 2 and value(text, 'iomt_edge_inferences_total{model="fall"}') == windows
    assert value(text, 'iomt_edge_window_latency_seconds_count') == windows
    assert 'iomt_edge_model_info{model="fall",version=' in text
    assert "iomt_edge_outbox_depth" in text and "iomt_edge_shed_frames_total" in text
