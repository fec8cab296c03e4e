"""Load for ``iomt bench edge``: the simulator's default patient mix, rendered before the clock
starts and replayed in real time, so the measurement is of the edge and not of the generator.

Frames keep their sequence numbers; only their device timestamp is set at publication (patched
into the binary header; readings are re-encoded), so latency is measured against the real clock.
"""

from __future__ import annotations

import argparse
import heapq
import json
import struct
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from iomt.config import MqttConfig
from iomt.transport import Delivery
from iomt.transport.bulk_mqtt import BulkMqttBus
from iomt.wire import topics
from iomt.wire.frames import HEADER, MAGIC, Reading, decode_json, encode_reading

_T0 = struct.Struct("<q")
_T0_OFFSET = 12  # see the header layout in iomt.wire.frames
assert HEADER.size == 36


@dataclass
class Rendered:
    topic: str
    frame_s: float
    stagger_s: float
    payloads: list[bytes]


def render(patients: int, duration_s: float, seed: int, site: str) -> list[Rendered]:
    from firmware_sim.scenario import build_devices, default_scenario

    devices = build_devices(default_scenario(patients, seed, site))
    streams = [s for d in devices for s in d.sources]
    out = []
    period = min(s.frame_s for s in streams)
    ids = sorted({s.device for s in streams})
    stagger = {d: i / max(1, len(ids)) * period for i, d in enumerate(ids)}
    base_us = time.time_ns() // 1000  # any valid instant: every timestamp is replaced at publication
    for device in devices:
        device.bind(base_us, stagger[device.device_id])
    for s in streams:
        frames = int(duration_s / s.frame_s)
        payloads: list[bytes] = []
        for k in range(frames):
            rendered = s.render(s.seq, base_us + round(k * s.frame_s * 1e6))
            s.seq += 1
            payloads.extend(rendered if isinstance(rendered, list) else [rendered])
        out.append(Rendered(topics.data(site, s.device, s.stream), s.frame_s, stagger[s.device], payloads))
    return out


def stamp(payload: bytes, t0_us: int) -> bytes:
    """The payload with its device timestamp set to ``t0_us``."""
    if payload[:2] == MAGIC:
        buf = bytearray(payload)
        _T0.pack_into(buf, _T0_OFFSET, t0_us)
        return bytes(buf)
    message = decode_json(payload)
    assert isinstance(message, Reading)
    return encode_reading(Reading(message.device, message.stream, message.seq, t0_us, message.values))


def replay(bus: BulkMqttBus, load: list[Rendered], duration_s: float) -> dict[str, float]:
    start_us = time.time_ns() // 1000 + 500_000
    heap = [(r.stagger_s + r.frame_s, i, 0) for i, r in enumerate(load) if r.payloads]
    heapq.heapify(heap)
    published = late = 0
    pending: deque[Delivery] = deque()
    while heap:
        due, i, k = heapq.heappop(heap)
        if due > duration_s:
            continue
        wait = start_us / 1e6 + due - time.time()
        if wait > 0:
            time.sleep(wait)
        elif wait < -0.25:
            late += 1
        r = load[i]
        pending.append(bus.publish(r.topic, stamp(r.payloads[k], start_us + round((due - r.frame_s) * 1e6))))
        published += 1
        while pending and pending[0].done():
            pending.popleft()
        if k + 1 < len(r.payloads):
            heapq.heappush(heap, (due + r.frame_s, i, k + 1))
    undelivered = sum(1 for d in pending if not d.wait(60))
    return {"published": published - undelivered, "late_frames": late, "undelivered": undelivered,
            "start_unix": start_us / 1e6, "end_unix": start_us / 1e6 + duration_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--broker", required=True)
    parser.add_argument("--patients", type=int, required=True)
    parser.add_argument("--duration", type=float, required=True)
    parser.add_argument("--report", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--site", default="default")
    args = parser.parse_args()
    load = render(args.patients, args.duration, args.seed, args.site)
    bus = BulkMqttBus(MqttConfig(url=args.broker), client_id=f"iomt-bench-load-{args.seed}")
    bus.start()
    try:
        report = replay(bus, load, args.duration)
    finally:
        bus.stop()
    args.report.write_text(json.dumps(report))


if __name__ == "__main__":
    main()
