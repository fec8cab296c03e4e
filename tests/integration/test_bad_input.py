"""Every kind of bad input, through the real broker: rejected with the field named, counted,
published to the dead-letter topic, and every valid frame around it still stored."""

from __future__ import annotations

import asyncio
import json
import queue
import uuid
from pathlib import Path

import numpy as np

from iomt.config import MqttConfig
from iomt.transport import ReceivedMessage
from iomt.transport.mqtt import MqttBus
from iomt.wire import topics
from iomt.wire.deadletter import decode_deadletter
from iomt.wire.frames import HEADER, HEADER_SIZE, encode_frame, make_frame
from tests.integration.helpers import T0_US, edge_config, enrol, start_edge, wait_until


def ecg(device: str, seq: int) -> bytes:
    raw = (np.sin(np.arange(125) / 4) * 800).astype(np.int16)
    return encode_frame(make_frame(device, "ecg", seq, T0_US + seq * 500_000, 250.0, raw, 0.001))


def with_header(payload: bytes, index: int, value: object) -> bytes:
    fields = list(HEADER.unpack_from(payload))
    fields[index] = value
    return HEADER.pack(*fields) + payload[HEADER_SIZE:]


def bad_payloads(site: str, device: str) -> dict[str, tuple[str, bytes]]:
    """field the rejection must name -> (topic, payload)."""
    data = topics.data(site, device, "ecg")
    good = ecg(device, 999)
    nan_acc = np.ones((25, 3), dtype=np.float32)
    nan_acc[3, 0] = np.nan
    return {
        "header": (data, good[:30]),
        "version": (data, with_header(good, 1, 7)),
        "sample_rate": (data, with_header(good, 9, 0.0)),
        "n_samples": (data, good[:-6]),
        "samples": (topics.data(site, device, "acc"),
                    encode_frame(make_frame(device, "acc", 1, T0_US, 50.0, nan_acc))),
        "json": (topics.data(site, device, "vitals"), b'{"v": 1, "device": '),
        "stream": (topics.data(site, device, "weather"),
                   json.dumps({"v": 1, "device": device, "stream": "weather", "seq": 0, "t": 1.7e9,
                               "values": {"x": 1}}).encode()),
        "payload": (data, good + b"\x00" * 300_000),
    }


async def test_bad_input_is_dead_lettered_and_valid_frames_survive(
    tmp_path: Path, mqtt_config: MqttConfig, gateway: object
) -> None:
    site = f"bad{uuid.uuid4().hex[:8]}"
    device = "patient-0001"
    token = enrol(gateway, f"edge-{site}")
    node = await start_edge(edge_config(tmp_path, mqtt_config, gateway.url, site,  # type: ignore[attr-defined]
                                        uplink_token=token))
    store = gateway.store  # type: ignore[attr-defined]
    letters: queue.Queue[ReceivedMessage] = queue.Queue()
    publisher = MqttBus(mqtt_config, f"pub-{site}")
    try:
        publisher.subscribe(topics.deadletter_filter(site), letters.put)
        await asyncio.to_thread(publisher.start)
        await asyncio.sleep(0.3)
        bad = bad_payloads(site, device)
        data_topic = topics.data(site, device, "ecg")
        deliveries = []
        for seq, (topic, payload) in enumerate(bad.values()):
            deliveries.append(publisher.publish(data_topic, ecg(device, 2 * seq)))
            deliveries.append(publisher.publish(topic, payload))
            deliveries.append(publisher.publish(data_topic, ecg(device, 2 * seq + 1)))
        assert all([await asyncio.to_thread(d.wait, 10) for d in deliveries])
        valid = 2 * len(bad)

        await wait_until(lambda: len(store.stored_sequences(device, "ecg")) == valid, 20, "valid frames stored")
        await wait_until(lambda: store.count("deadletters") >= len(bad), 20, "dead letters stored")
        await asyncio.sleep(0.5)  # anything extra (a dead letter of a dead letter) would show up now
        assert store.stored_sequences(device, "ecg") == list(range(valid))

        fields = {}
        for _ in bad:
            letter = decode_deadletter((await asyncio.to_thread(letters.get, True, 10)).payload)
            fields[letter.field] = letter
        assert set(fields) == set(bad)
        for field, letter in fields.items():
            assert letter.topic == bad[field][0]
            assert letter.payload_len == len(bad[field][1])
            assert letter.reason and letter.field == field
        assert store.count("deadletters") == len(bad)
        assert node.processor.counters.dead_letter == len(bad)
        assert node.processor.rejections == {field: 1 for field in bad}
    finally:
        await asyncio.to_thread(publisher.stop)
        await asyncio.to_thread(node.stop)
