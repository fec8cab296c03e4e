"""Load for ``iomt bench edge``: the simulator's default patient mix, rendered before the clock
starts and replayed in real time by the fleet's own scheduler (:class:`firmware_sim.fleet.Fleet`),
so the measurement is of the edge and not of the generator.

Messages are decoded once when rendered and keep their sequence numbers; at publication each is
encoded again by the codec with the device time the fleet gives its frame, so latency is measured
against the real clock.

With ``--image-every-min M`` every patient is also imaged every M minutes by an ultrasound device of
their own (:class:`firmware_sim.devices.ImagingDevice`), the first image at a random instant of the
first M minutes, so the images are spread over the run as they would be on a ward (about
``patients * duration / (60 M)`` of them in a run), not sent all at the start. They are plain (legacy,
unsealed) images: the load has no device registry to take keys from; the edge is told to accept them.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from firmware_sim.devices import ImagingDevice, StreamSource
from firmware_sim.fleet import Fleet
from firmware_sim.scenario import build_devices, default_scenario
from iomt.config import MqttConfig
from iomt.transport.bulk_mqtt import BulkMqttBus
from iomt.wire.frames import Frame, Reading, decode_payload, encode_frame, encode_reading


@dataclass
class Prerendered:
    """The frames of one stream, rendered in advance: ``render(seq, t0_us)`` as a live source's."""

    #: per frame, its messages (decoded; raw bytes for what the codec does not re-time, e.g. image chunks)
    frames: list[list[Frame | Reading | bytes]]
    first_seq: int = 0

    def render(self, seq: int, t0_us: int) -> bytes | list[bytes]:
        messages = [retimed(message, t0_us) for message in self.frames[seq - self.first_seq]]
        return messages[0] if len(messages) == 1 else messages


def retimed(message: Frame | Reading | bytes, t0_us: int) -> bytes:
    """``message`` encoded with its device time set to ``t0_us``."""
    if isinstance(message, Frame):
        return encode_frame(replace(message, t0_us=t0_us, encoded=None))
    if isinstance(message, Reading):
        return encode_reading(replace(message, t_us=t0_us))
    return message


def _decoded(payload: bytes) -> Frame | Reading | bytes:
    return decode_payload(payload) if payload[:2] == b"IM" or payload[:1] == b"{" else payload


def render(patients: int, duration_s: float, seed: int, site: str) -> list[StreamSource]:
    """Every stream of the default mix of ``patients``, its ``duration_s`` rendered in advance."""
    devices = build_devices(default_scenario(patients, seed, site))
    base_us = time.time_ns() // 1000  # any valid instant: every device time is replaced at publication
    out = []
    for device in devices:
        device.bind(base_us, 0.0)
        for s in device.sources:
            frames = []
            for k in range(int(duration_s / s.frame_s)):
                rendered = s.render(s.seq, base_us + round(k * s.frame_s * 1e6))
                s.seq += 1
                frames.append([_decoded(p) for p in (rendered if isinstance(rendered, list) else [rendered])])
            out.append(StreamSource(s.device, s.stream, s.rate_hz, s.frame_s, Prerendered(frames).render))
    return out


def imaging(patients: int, duration_s: float, every_min: float, seed: int) -> tuple[list[StreamSource], int]:
    """An imaging device per patient, an image every ``every_min`` minutes from a random first instant;
    rendered in advance are the images due within ``duration_s`` (devices with none are left out: they
    would publish nothing in the run). Also the number of images rendered."""
    interval = every_min * 60.0
    rng = np.random.default_rng([seed, 14])
    base_us = time.time_ns() // 1000
    out, count = [], 0
    for i in range(patients):
        first = float(rng.uniform(0.0, interval)) or interval  # in (0, interval]
        due = int((duration_s - first) // interval) + 1 if first <= duration_s else 0
        if due == 0:
            continue
        device = ImagingDevice(f"imaging-{i + 1:04d}", np.random.default_rng([seed, 14, i]), interval,
                               first_image_s=first, patients=(f"patient-{i + 1:04d}",))
        device.bind(base_us, 0.0)
        (s,) = device.sources
        frames: list[list[Frame | Reading | bytes]] = []
        for k in range(due):
            rendered = s.render(k, base_us + round((first + k * interval) * 1e6))
            frames.append(list(rendered) if isinstance(rendered, list) else [rendered])
        count += due
        out.append(StreamSource(s.device, s.stream, s.rate_hz, s.frame_s, Prerendered(frames).render,
                                lead_s=s.lead_s))
    return out, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--broker", required=True)
    parser.add_argument("--patients", type=int, required=True)
    parser.add_argument("--duration", type=float, required=True)
    parser.add_argument("--report", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--site", default="default")
    parser.add_argument("--image-every-min", type=float, help="also an image per patient every this many minutes")
    args = parser.parse_args()
    streams = render(args.patients, args.duration, args.seed, args.site)
    images, rendered = (imaging(args.patients, args.duration, args.image_every_min, args.seed)
                        if args.image_every_min else ([], 0))
    streams += images
    bus = BulkMqttBus(MqttConfig(url=args.broker), client_id=f"iomt-bench-load-{args.seed}")
    bus.start()
    try:
        report = Fleet(bus, args.site, streams, seed=args.seed).run(args.duration)
    finally:
        bus.stop()
    start_unix = report.started_us / 1e6
    args.report.write_text(json.dumps({
        "published": report.published, "late_frames": report.late_frames, "max_lag_s": round(report.max_lag_s, 4),
        "start_unix": start_unix, "end_unix": start_unix + args.duration,
        "imaging_devices": len(images), "images_rendered": rendered,
    }))


if __name__ == "__main__":
    main()
