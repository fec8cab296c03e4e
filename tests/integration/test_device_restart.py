"""No silent loss on device restart (issue 12, point 5), through the real broker, edge and gateway.

A device streams ECG, restarts (a new boot id, its sequence back at 0) and streams again: every frame
after the restart is stored and analysed, and the edge counts one restart. One forged frame with
sequence 4e9 is stored and counted as a jump, and the patient's frames after it are still analysed
(the forged frame used to move the stream, so everything after it was a "duplicate"). A v1 device
(no boot id) that restarts is analysed again too."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import numpy as np

from iomt.config import MqttConfig
from iomt.transport.mqtt import MqttBus
from iomt.wire import topics
from iomt.wire.frames import HEADER, HEADER_SIZE, HEADER_V1, encode_frame, make_frame
from tests.integration.helpers import T0_US, edge_config, enrol, start_edge, wait_until

RAW = (np.sin(np.arange(125) / 4) * 800).astype(np.int16)
N = 30


def frame(device: str, seq: int, boot: int, t_index: int, v1: bool = False) -> bytes:
    payload = encode_frame(make_frame(device, "ecg", seq, T0_US + t_index * 500_000, 250.0, RAW, 0.001, boot=boot))
    if not v1:
        return payload
    fields = list(HEADER.unpack_from(payload))[:-1]
    fields[1] = 1
    return HEADER_V1.pack(*fields) + payload[HEADER_SIZE:]


async def test_restart_and_forged_sequence_lose_nothing(
    tmp_path: Path, mqtt_config: MqttConfig, gateway: object
) -> None:
    site = f"restart{uuid.uuid4().hex[:8]}"
    token = enrol(gateway, f"edge-{site}")
    node = await start_edge(edge_config(tmp_path, mqtt_config, gateway.url, site,  # type: ignore[attr-defined]
                                        uplink_token=token))
    store = gateway.store  # type: ignore[attr-defined]
    publisher = MqttBus(mqtt_config, f"pub-{site}")
    restarted, forged, old = "p-restart", "p-forged", "p-v1"
    try:
        await asyncio.to_thread(publisher.start)

        async def send(device: str, payloads: list[bytes]) -> None:
            deliveries = [publisher.publish(topics.data(site, device, "ecg"), p) for p in payloads]
            assert all([await asyncio.to_thread(d.wait, 10) for d in deliveries])

        await send(restarted, [frame(restarted, s, 0xA1, s) for s in range(N)])
        await send(restarted, [frame(restarted, s, 0xB2, N + 10 + s) for s in range(N)])  # restarted
        await send(forged, [frame(forged, s, 7, s) for s in range(N)])
        await send(forged, [frame(forged, 4_000_000_000, 7, 0)])  # the attacker's, at the first frame's instant
        await send(forged, [frame(forged, s, 7, s) for s in range(N, 2 * N)])
        await send(old, [frame(old, s, 0, s, v1=True) for s in range(N)])
        await send(old, [frame(old, s, 0, N + 10 + s, v1=True) for s in range(N)])  # a v1 restart

        await wait_until(lambda: len(store.stored_sequences(restarted, "ecg")) == 2 * N, 20, "both sessions stored")
        await wait_until(lambda: len(store.stored_sequences(forged, "ecg")) == 2 * N + 1, 20, "the forged stream")
        await wait_until(lambda: node.processor.counters.frames == 6 * N + 1, 20, "every frame at the edge")
        # the edge counts a frame before the uplink stores it: wait for the v1 device's frames to be stored
        # too (its store key holds one of each sequence number, so N of its 2 N frames; checked below)
        await wait_until(lambda: len(store.stored_sequences(old, "ecg")) >= N, 20, "the v1 device's frames stored")
        stats = {s.device: s for s in store.stream_stats()}
        assert (stats[restarted].frames, stats[restarted].missing, stats[restarted].sessions) == (2 * N, 0, 2)
        assert (stats[forged].frames, stats[forged].missing, stats[forged].jumps) == (2 * N + 1, 0, 1)
        totals = node.processor.sequences.totals()
        assert totals["restarts"] == 2 and totals["jumps"] == 1
        assert totals["duplicates"] == 0 and totals["missing"] == 0
        # every honest frame went to the pipelines: all but the forged one
        assert node.processor.counters.analysed == 6 * N
        # a v1 device's restart is analysed, but its store key cannot tell the sessions apart
        assert len(store.stored_sequences(old, "ecg")) == N
    finally:
        await asyncio.to_thread(publisher.stop)
        await asyncio.to_thread(node.stop)
