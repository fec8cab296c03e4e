"""The edge against the real broker with the released int8 models: falls and fall-like activities."""

from __future__ import annotations

import asyncio
import queue
import time
import uuid
from pathlib import Path

import pytest

from iomt.config import MqttConfig
from iomt.transport import ReceivedMessage
from iomt.transport.mqtt import MqttBus
from iomt.wire import topics
from iomt.wire.events import decode_event
from tests.e2e.scripted import publish_realtime, scripted_motion
from tests.integration.helpers import edge_config, enrol, start_edge

pytestmark = pytest.mark.slow

#: long enough for the detector to decide (up to 10 s after the impact: posture, time down, inactivity)
SECONDS = 24.0


async def test_a_fall_raises_one_alert_within_10_s_and_fall_like_activities_none(
    tmp_path: Path, mqtt_config: MqttConfig, gateway: object
) -> None:
    site = f"falls{uuid.uuid4().hex[:6]}"
    devices = [
        scripted_motion("faller", ["standing", "fall_forward"], SECONDS, seed=11),
        scripted_motion("sitter", ["standing", "sit_down_hard"], SECONDS, seed=12),
        scripted_motion("lier", ["standing", "lie_down_fast"], SECONDS, seed=13),
        scripted_motion("bender", ["standing", "bend_pick_up", "standing"], SECONDS, seed=14),
        scripted_motion("jumper", ["standing", "jump", "standing"], SECONDS, seed=15),
    ]
    impacts = [e[0] for e in devices[0].truth if e[3] == "impact"]
    assert len(impacts) == 1, devices[0].truth
    node = await start_edge(edge_config(tmp_path, mqtt_config, gateway.url, site,  # type: ignore[attr-defined]
                                        uplink_token=enrol(gateway, f"edge-{site}")))
    assert node.processor.registry.current("fall") is not None, node.processor.registry.errors()
    alerts: queue.Queue[tuple[ReceivedMessage, float]] = queue.Queue()
    bus = MqttBus(mqtt_config, f"watch-{site}")
    bus.subscribe(topics.event_filter(site), lambda m: alerts.put((m, time.time())))
    await asyncio.to_thread(bus.start)
    try:
        start_us = time.time_ns() // 1000 + 300_000
        publisher = publish_realtime(bus, site, devices, start_us)
        await asyncio.to_thread(publisher.join, SECONDS + 10)
        await asyncio.sleep(2.5)
        received = []
        while not alerts.empty():
            message, at = alerts.get()
            received.append((decode_event(message.payload), at))
    finally:
        await asyncio.to_thread(bus.stop)
        await asyncio.to_thread(node.stop, 2.0)
    fall_alerts = [(e, at) for e, at in received if e.kind == "alert" and e.label == "fall"]
    by_device = {e.device for e, _ in fall_alerts}
    assert by_device == {"faller"}, [(e.device, e.score) for e, _ in fall_alerts]
    assert len(fall_alerts) == 1
    event, at = fall_alerts[0]
    impact_wall = start_us / 1e6 + impacts[0]
    assert at - impact_wall <= 10.0, f"alert {at - impact_wall:.2f} s after the impact"
    assert abs(int(event.detail["impact_us"]) - impact_wall * 1e6) < 500_000  # the alert names its impact
    assert event.model == "fall" and event.model_version and event.priority == "high" and event.state == "raised"
    assert event.window_start_us < event.window_end_us and 0.0 < event.score <= 1.0
