"""Scripted devices for end-to-end tests: the simulator's own generators, with the activities and
rhythms chosen by the test, published in real time through the real broker."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np

from firmware_sim.motion import MotionGenerator
from firmware_sim.persona import make_persona
from iomt.transport.mqtt import MqttBus
from iomt.wire import topics
from iomt.wire.frames import encode_frame, make_frame


@dataclass
class ScriptedDevice:
    """Pre-rendered streams of one device: ``streams[name] = (rate, samples (n, ch), scale)``."""

    device: str
    streams: dict[str, tuple[float, np.ndarray, float]]
    truth: list[tuple[float, float, str, str]] = field(default_factory=list)  # (t_s, t_end_s, label, kind)


def scripted_motion(device: str, activities: list[str], seconds: float, seed: int, fs: float = 50.0) -> ScriptedDevice:
    """A motion wearable performing ``activities`` in order, then whatever follows, for ``seconds``."""
    gen = MotionGenerator(make_persona(seed, 0), fs, np.random.default_rng(seed))
    acc, gyro, truth, t = [], [], [], 0.0
    plan = list(activities)
    while t < seconds:
        block = gen.next_block(plan.pop(0) if plan else None)
        truth += [(t + a, t + b, label, kind) for a, b, label, kind in block.events]
        acc.append(block.acc)
        gyro.append(block.gyro)
        t += len(block.acc) / fs
    n = int(seconds * fs)
    return ScriptedDevice(
        device,
        {"acc": (fs, np.concatenate(acc)[:n], 1 / 4096), "gyro": (fs, np.concatenate(gyro)[:n], 1 / 16)},
        [e for e in truth if e[0] < seconds],
    )


def publish_realtime(
    bus: MqttBus, site: str, devices: list[ScriptedDevice], start_us: int, frame_s: float = 0.5
) -> threading.Thread:
    """Publish every device's streams frame by frame, each frame when its last sample 'exists'."""

    def run() -> None:
        seconds = min(v[1].shape[0] / v[0] for d in devices for v in d.streams.values())
        frames = int(seconds / frame_s)
        for k in range(frames):
            due = start_us / 1e6 + (k + 1) * frame_s
            time.sleep(max(0.0, due - time.time()))
            for d in devices:
                for stream, (rate, samples, scale) in d.streams.items():
                    n = round(rate * frame_s)
                    block = samples[k * n:(k + 1) * n]
                    raw = np.clip(np.round(block / scale), -32768, 32767).astype(np.int16)
                    t0 = start_us + round(k * frame_s * 1e6)
                    payload = encode_frame(make_frame(d.device, stream, k, t0, rate, raw, scale))
                    bus.publish(topics.data(site, d.device, stream), payload)

    thread = threading.Thread(target=run, name="scripted-publisher", daemon=True)
    thread.start()
    return thread


def scripted_ecg(
    device: str, seconds: float, seed: int, condition: str | None = None, fs: float = 250.0,
    lead_off: tuple[float, float] | None = None,
) -> ScriptedDevice:
    """An ECG patch of the simulator's ``condition``; optionally with the electrode off for a while."""
    from firmware_sim.ecg import EcgStream
    from firmware_sim.faults import LeadOff, apply_signal_faults

    stream = EcgStream(make_persona(seed, 0, condition=condition), fs, np.random.default_rng(seed))
    signal = np.asarray(stream.render(int(seconds * fs)))
    truth = [(t, t, label, "beat") for t, label in stream.take_beats()]
    truth += [(e.start, e.end, e.label, "rhythm") for e in stream.take_episodes()]
    if lead_off is not None:
        fault = LeadOff(type="lead_off", devices=[device], start_s=lead_off[0], end_s=lead_off[1])
        t = np.arange(signal.size) / fs
        signal = apply_signal_faults([fault], device, "ecg", t, signal, np.random.default_rng(seed))
        truth.append((lead_off[0], lead_off[1], "lead_off", "fault"))
    return ScriptedDevice(device, {"ecg": (fs, signal[:, None], 0.001)}, truth)
