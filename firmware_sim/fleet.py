"""A fleet of simulated patients publishing their devices' streams in real time.

Each stream emits one frame per ``frame_s`` of signal, published when its last sample has been
"acquired" (so latency is measured from a real acquisition instant). Streams of different patients
are staggered to spread the load evenly.
"""

from __future__ import annotations

import heapq
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from firmware_sim.ecg import EcgSynth
from firmware_sim.motion import MotionGenerator, MotionStream
from firmware_sim.persona import make_persona
from iomt.transport import Delivery, MessageBus
from iomt.wire import topics
from iomt.wire.frames import Reading, encode_frame, encode_reading, make_frame

log = logging.getLogger(__name__)


@dataclass
class StreamSource:
    """One device stream: how to render the next frame and the sequence it is at."""

    device: str
    stream: str
    rate_hz: float
    frame_s: float
    render: Callable[[int, int], bytes]
    seq: int = 0

    @property
    def samples_per_frame(self) -> int:
        return max(1, round(self.rate_hz * self.frame_s))


@dataclass
class Patient:
    patient_id: str
    hr_bpm: float
    seed: int


@dataclass
class FleetReport:
    """What was published, per stream; the basis for counting loss downstream."""

    published: int = 0
    samples: int = 0
    streams: dict[str, int] = field(default_factory=dict)
    started_us: int = 0
    duration_s: float = 0.0
    late_frames: int = 0

    def as_dict(self) -> dict[str, object]:
        return {
            "published": self.published,
            "samples": self.samples,
            "streams": self.streams,
            "started_us": self.started_us,
            "duration_s": self.duration_s,
            "late_frames": self.late_frames,
        }


def default_patients(n: int, seed: int = 0) -> list[Patient]:
    """``n`` patients with resting heart rates spread over 55-100 bpm, deterministic from ``seed``."""
    rng = np.random.default_rng(seed)
    return [Patient(f"patient-{i + 1:04d}", float(rng.uniform(55, 100)), seed * 100_003 + i) for i in range(n)]


def patient_streams(patient: Patient, ecg_hz: float = 250.0, acc_hz: float = 50.0) -> list[StreamSource]:
    """ECG, accelerometer and vitals streams of one patient."""
    rng = np.random.default_rng(patient.seed)
    ecg = EcgSynth(ecg_hz, patient.hr_bpm, rng)
    acc = MotionStream(MotionGenerator(make_persona(patient.seed, 0), acc_hz, rng))
    device = patient.patient_id

    def ecg_frame(seq: int, t0_us: int) -> bytes:
        samples = ecg.render(round(ecg_hz * 0.5))
        raw = np.clip(np.round(samples / 0.001), -32768, 32767).astype(np.int16)
        return encode_frame(make_frame(device, "ecg", seq, t0_us, ecg_hz, raw, scale=0.001))

    def acc_frame(seq: int, t0_us: int) -> bytes:
        samples, _gyro = acc.render(round(acc_hz * 0.5))
        raw = np.clip(np.round(samples * 4096), -32768, 32767).astype(np.int16)
        return encode_frame(make_frame(device, "acc", seq, t0_us, acc_hz, raw, scale=1 / 4096))

    def vitals(seq: int, t0_us: int) -> bytes:
        values = {
            "hr": round(patient.hr_bpm + rng.normal(0, 1.5), 1),
            "spo2": round(float(np.clip(rng.normal(97.5, 0.8), 85, 100)), 1),
            "resp_rate": round(float(rng.normal(15, 1.0)), 1),
            "temp_c": round(float(rng.normal(36.8, 0.1)), 2),
        }
        return encode_reading(Reading(device, "vitals", seq, t0_us, values))

    return [
        StreamSource(device, "ecg", ecg_hz, 0.5, ecg_frame),
        StreamSource(device, "acc", acc_hz, 0.5, acc_frame),
        StreamSource(device, "vitals", 1.0, 1.0, vitals),
    ]


class Fleet:
    """Publishes every stream of every patient on ``bus`` until the duration has elapsed."""

    def __init__(self, bus: MessageBus, site: str, streams: list[StreamSource], qos: int = 1) -> None:
        self.bus = bus
        self.site = site
        self.streams = streams
        self.qos = qos
        self.report = FleetReport()
        self._stopped = False

    def stop(self) -> None:
        self._stopped = True

    def run(self, duration_s: float, realtime: bool = True) -> FleetReport:
        start_wall_us = time.time_ns() // 1000
        start_mono = time.monotonic()
        self.report.started_us = start_wall_us
        count = len(self.streams)
        # (due offset in s, index, frame number): frame k of stream i covers [k*frame_s, (k+1)*frame_s)
        # shifted by a per-stream stagger, and is due when its last sample exists.
        heap = []
        for i, s in enumerate(self.streams):
            stagger = (i / max(1, count)) * s.frame_s
            heap.append((stagger + s.frame_s, i, 0, stagger))
        heapq.heapify(heap)
        pending: deque[Delivery] = deque()
        topic_of = [topics.data(self.site, s.device, s.stream) for s in self.streams]
        while heap and not self._stopped:
            due, i, k, stagger = heap[0]
            if due > duration_s:
                heapq.heappop(heap)
                continue
            if realtime:
                wait = due - (time.monotonic() - start_mono)
                if wait > 0:
                    time.sleep(min(wait, 0.05))
                    continue
                if wait < -0.25:
                    self.report.late_frames += 1
            heapq.heappop(heap)
            source = self.streams[i]
            t0_us = start_wall_us + round((stagger + k * source.frame_s) * 1e6)
            payload = source.render(source.seq, t0_us)
            pending.append(self.bus.publish(topic_of[i], payload, qos=self.qos))
            source.seq += 1
            self.report.published += 1
            self.report.samples += source.samples_per_frame
            while pending and pending[0].done():
                pending.popleft()
            heapq.heappush(heap, (due + source.frame_s, i, k + 1, stagger))
        for delivery in pending:
            delivery.wait(30.0)
        self.report.duration_s = time.monotonic() - start_mono
        self.report.streams = {f"{s.device}/{s.stream}": s.seq for s in self.streams}
        return self.report
