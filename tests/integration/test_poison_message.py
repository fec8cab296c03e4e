"""One bad message never costs another (issue 12, point 6), through the real broker, edge and
gateway: 20 patients stream ECG while 20 readings with ``"t": 1e308`` (each a valid JSON number
that overflows the microsecond clock) arrive among their frames, in the same processing cycles.
Every honest frame is stored; each poison message is dead-lettered naming ``t``, once."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import numpy as np

from iomt.config import MqttConfig
from iomt.transport.mqtt import MqttBus
from iomt.wire import topics
from iomt.wire.frames import encode_frame, make_frame
from tests.integration.helpers import T0_US, edge_config, enrol, start_edge, wait_until

PATIENTS = 20
FRAMES = 8


async def test_poison_readings_cost_no_honest_frame(tmp_path: Path, mqtt_config: MqttConfig, gateway: object) -> None:
    site = f"poison{uuid.uuid4().hex[:8]}"
    # a slow cycle, so that poison and honest messages share batches as they did when this was found
    token = enrol(gateway, f"edge-{site}")
    node = await start_edge(edge_config(tmp_path, mqtt_config, gateway.url, site,  # type: ignore[attr-defined]
                                        min_cycle_ms=200, uplink_token=token))
    store = gateway.store  # type: ignore[attr-defined]
    publisher = MqttBus(mqtt_config, f"pub-{site}")
    raw = (np.sin(np.arange(125) / 4) * 800).astype(np.int16)
    try:
        await asyncio.to_thread(publisher.start)
        deliveries = []
        for seq in range(FRAMES):
            for p in range(PATIENTS):
                device = f"p{p:03d}"
                frame = make_frame(device, "ecg", seq, T0_US + seq * 500_000, 250.0, raw, 0.001)
                deliveries.append(publisher.publish(topics.data(site, device, "ecg"), encode_frame(frame)))
                if seq == FRAMES // 2:
                    poison = {"v": 1, "device": device, "stream": "vitals", "seq": 0, "t": 1e308,
                              "values": {"hr": 70}}
                    deliveries.append(publisher.publish(topics.data(site, device, "vitals"),
                                                        json.dumps(poison).encode()))
        assert all([await asyncio.to_thread(d.wait, 10) for d in deliveries])

        def all_stored() -> bool:
            return all(len(store.stored_sequences(f"p{p:03d}", "ecg")) == FRAMES for p in range(PATIENTS))

        await wait_until(all_stored, 30, "every honest frame stored")
        await wait_until(lambda: store.count("deadletters") >= PATIENTS, 20, "the poison dead-lettered")
        await asyncio.sleep(0.5)
        assert store.count("deadletters") == PATIENTS
        assert node.processor.rejections == {"t": PATIENTS}
        assert node.processor.counters.failed == 0 and node.processor.counters.failed_cycles == 0
        assert node.outbox.pending == 0
    finally:
        await asyncio.to_thread(publisher.stop)
        await asyncio.to_thread(node.stop)
