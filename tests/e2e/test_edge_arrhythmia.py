"""Arrhythmia alerts on runs, not beats; a lead-off gives a signal-quality event and no arrhythmia."""

from __future__ import annotations

import asyncio
import queue
import time
import uuid
from pathlib import Path

import pytest

from iomt.config import MqttConfig
from iomt.transport.mqtt import MqttBus
from iomt.wire import topics
from iomt.wire.events import Event, decode_event
from tests.e2e.scripted import publish_realtime, scripted_ecg
from tests.integration.helpers import edge_config, enrol, start_edge

pytestmark = pytest.mark.slow

SECONDS = 24.0
ARRHYTHMIA = {"ventricular_run", "ectopy_burden"}


async def test_a_burst_of_v_beats_alerts_and_a_lead_off_only_reports_signal_quality(
    tmp_path: Path, mqtt_config: MqttConfig, gateway: object
) -> None:
    site = f"ecg{uuid.uuid4().hex[:6]}"
    vt = scripted_ecg("vt-patient", SECONDS, seed=1, condition="vt_prone")
    episodes = [(a, b) for a, b, label, kind in vt.truth if kind == "rhythm" and label == "VT"]
    assert episodes and 6 < episodes[0][0] < SECONDS - 6, vt.truth  # the simulator's seed 1 has one here
    lead_off = scripted_ecg("leadoff-patient", SECONDS, seed=3, condition="normal", lead_off=(8.0, 18.0))
    normal = scripted_ecg("calm-patient", SECONDS, seed=4, condition="normal")
    node = await start_edge(edge_config(tmp_path, mqtt_config, gateway.url, site,  # type: ignore[attr-defined]
                                        uplink_token=enrol(gateway, f"edge-{site}")))
    assert node.processor.registry.current("ecg") is not None, node.processor.registry.errors()
    events: queue.Queue[Event] = queue.Queue()
    bus = MqttBus(mqtt_config, f"watch-{site}")
    bus.subscribe(topics.event_filter(site), lambda m: events.put(decode_event(m.payload)))
    await asyncio.to_thread(bus.start)
    try:
        start_us = time.time_ns() // 1000 + 200_000
        publisher = publish_realtime(bus, site, [vt, lead_off, normal], start_us)
        await asyncio.to_thread(publisher.join, SECONDS + 10)
        await asyncio.sleep(2.0)
    finally:
        await asyncio.to_thread(bus.stop)
        await asyncio.to_thread(node.stop, 2.0)
    received = []
    while not events.empty():
        received.append(events.get())

    def alerts(device: str) -> list[Event]:
        return [e for e in received if e.device == device and e.kind == "alert" and e.label in ARRHYTHMIA]

    runs = [e for e in alerts("vt-patient") if e.label == "ventricular_run" and e.state == "raised"]
    assert len(runs) == 1, [(e.label, e.state) for e in alerts("vt-patient")]
    vt_start_us = start_us + round(episodes[0][0] * 1e6)
    vt_end_us = start_us + round(episodes[0][1] * 1e6)
    assert vt_start_us - 1_000_000 <= runs[0].window_start_us <= vt_end_us
    assert runs[0].priority == "high" and runs[0].model == "ecg" and runs[0].model_version

    quality = [e for e in received if e.device == "leadoff-patient" and e.kind == "quality"]
    assert [e.label for e in quality][:2] == ["lead_off", "signal_ok"], [e.label for e in quality]
    off = quality[0]
    assert start_us + 8_000_000 <= off.window_end_us <= start_us + 11_000_000
    assert alerts("leadoff-patient") == []
    assert alerts("calm-patient") == []
    beats = [e for e in received if e.device == "calm-patient" and e.model == "ecg" and e.kind == "inference"]
    assert beats, "no beat classifications for the calm patient"
