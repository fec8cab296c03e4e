"""``iomt bench sim``: how many simulated devices one process on one core keeps in real time,
through a real mosquitto it starts itself.

Three measurements in the same run, so the figure can be read against its parts:

1. **generation only**: the same fleet rendered and encoded as fast as possible into a null bus
   (simulated seconds per wall second with no MQTT at all);
2. **transport only** (baseline): as many pre-encoded frames of the same sizes published through
   the same broker at the same QoS, as fast as possible (the paho ceiling on this machine);
3. **the fleet in real time** through the broker, paced by the wall clock: ``realtime_ratio`` is
   simulated seconds over the wall seconds until the last frame was handed to the bus (>= 1.0 means
   it kept up), ``cpu_percent`` is this process's CPU time (all threads) over that wall time.

A "device" is one physical device of the default mix (per patient: an ECG patch or an emotion
band, a motion wearable and a vitals monitor), so ``--devices 2000`` simulates 667 patients.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import time
from pathlib import Path
from typing import Any

from benchmarks import cpus

log = logging.getLogger(__name__)

DEVICES_PER_PATIENT = 3


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("sim", help="simulated devices sustained in real time on one core")
    p.add_argument("--devices", type=int, default=2000, help="physical devices of the default mix (3 per patient)")
    p.add_argument("--duration", type=float, default=30.0, help="seconds of real-time simulation")
    p.add_argument("--json", type=Path, help="write the results here")
    p.add_argument("--qos", type=int, choices=[0, 1], default=1, help="MQTT QoS of the frames (default 1)")
    p.add_argument("--core", type=int, default=0, help="pin this process to this core (index among allowed cores)")
    p.add_argument("--no-pin", action="store_true", help="do not pin to one core")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-truth", action="store_true", help="do not publish ground truth (iomt sim does by default)")
    p.add_argument("--sweep", type=lambda v: [int(x) for x in v.split(",") if x], default=[],
                   help="also run these fleet sizes (devices, comma-separated) and report the largest kept up")
    p.set_defaults(func=run)


class _NullDelivery:
    def wait(self, timeout: float | None = None) -> bool:
        return True

    def done(self) -> bool:
        return True


class _NullBus:
    """Counts what would be published (generation-only measurement)."""

    def __init__(self) -> None:
        self.sizes: list[int] = []

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> _NullDelivery:
        self.sizes.append(len(payload))
        return _NullDelivery()

    def subscribe(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError

    def ack(self, *args: Any) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        pass


def _fleet(patients: int, seed: int, bus: Any, qos: int, truth: bool) -> tuple[Any, Any, int, int]:
    from firmware_sim.fleet import Fleet
    from firmware_sim.scenario import build_devices, default_scenario
    from firmware_sim.truth import TruthSink

    devices = build_devices(default_scenario(patients, seed))
    streams = [s for d in devices for s in d.sources]
    sink = TruthSink(bus, "bench") if truth else None
    return Fleet(bus, "bench", streams, qos=qos, seed=seed, truth=sink), sink, len(devices), len(streams)


def _realtime(broker_url: str, patients: int, args: argparse.Namespace) -> dict[str, Any]:
    """One paced run of ``patients`` of the default mix; the figures of the result JSON."""
    from iomt.config import MqttConfig
    from iomt.transport.mqtt import MqttBus

    bus = MqttBus(MqttConfig(url=broker_url), client_id=f"iomt-bench-sim-{patients}").start()
    fleet, sink, n_devices, n_streams = _fleet(patients, args.seed, bus, args.qos, not args.no_truth)
    t0, c0 = time.perf_counter(), time.process_time()
    report = fleet.run(args.duration, realtime=True)
    wall_total = time.perf_counter() - t0
    cpu = time.process_time() - c0
    bus.stop()
    wall = max(report.last_publish_s, 1e-9)
    truth_messages = sink.published if sink is not None else 0
    frames = max(1, report.published)
    ratio = args.duration / wall
    return {
        "devices": n_devices,
        "patients": patients,
        "streams": n_streams,
        "duration_s": args.duration,
        "qos": args.qos,
        "realtime_ratio": round(ratio, 3),
        # Kept up: finished on time and at most 1 % of frames left more than 0.25 s after acquisition.
        "kept_up": ratio >= 0.99 and report.late_frames <= 0.01 * frames,
        "late_frames": report.late_frames,
        "late_fraction": round(report.late_frames / frames, 4),
        "max_lag_s": round(report.max_lag_s, 4),
        "messages": report.published + truth_messages,
        "messages_per_s": round((report.published + truth_messages) / wall, 1),
        "data_messages": report.published,
        "truth_messages": truth_messages,
        "samples_per_s": round(report.samples / wall, 1),
        "cpu_percent": round(100.0 * cpu / wall_total, 1),
        "cpu_s_per_device_s": round(cpu / (n_devices * args.duration), 8),
        "devices_per_core_estimate": int(n_devices * args.duration / max(cpu, 1e-9)),
    }


def run(args: argparse.Namespace) -> int:
    from iomt.config import MqttConfig
    from iomt.transport.mqtt import MqttBus
    from testsupport.services import Mosquitto

    patients = max(1, math.ceil(args.devices / DEVICES_PER_PATIENT))
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    with Mosquitto() as broker:  # started before pinning: the broker keeps its own scheduling
        core = None if args.no_pin else cpus.pin(args.core)
        log.info("bench sim: %d patients on core %s, %g s, QoS %d, broker %s", patients, core, args.duration,
                 args.qos, broker.url)

        # 1. generation only
        null = _NullBus()
        gen_fleet, _, _, _ = _fleet(patients, args.seed, null, args.qos, not args.no_truth)
        gen_s = min(args.duration, 10.0)
        t0, c0 = time.perf_counter(), time.process_time()
        gen_fleet.run(gen_s, realtime=False)
        gen_wall, gen_cpu = time.perf_counter() - t0, time.process_time() - c0
        sizes = null.sizes

        # 2. transport only (baseline): same sizes, same broker, same QoS, as fast as possible
        bus = MqttBus(MqttConfig(url=broker.url), client_id="iomt-bench-sim-baseline").start()
        payloads = [bytes(n) for n in sizes[: min(len(sizes), 20_000)]]
        t0, c0 = time.perf_counter(), time.process_time()
        deliveries = [bus.publish("iomt/v1/bench/baseline/ecg", p, args.qos) for p in payloads]
        for d in deliveries:
            d.wait(60)
        base_wall, base_cpu = time.perf_counter() - t0, time.process_time() - c0
        bus.stop()

        # 3. the fleet in real time (and optionally a sweep of fleet sizes)
        result = _realtime(broker.url, patients, args)
        sweep = [_realtime(broker.url, max(1, math.ceil(n / DEVICES_PER_PATIENT)), args) for n in args.sweep]

    result.update({
        "mean_payload_bytes": round(sum(sizes) / max(1, len(sizes)), 1),
        "generation_only": {
            "simulated_s": gen_s,
            "realtime_ratio": round(gen_s / gen_wall, 2),
            "cpu_s": round(gen_cpu, 3),
            "messages_per_s": round(len(sizes) / gen_wall, 1),
        },
        "baseline_transport_only": {
            "messages": len(payloads),
            "messages_per_s": round(len(payloads) / base_wall, 1),
            "cpu_s": round(base_cpu, 3),
            "cpu_us_per_message": round(1e6 * base_cpu / max(1, len(payloads)), 1),
        },
        "pinned_core": core,
        "load_average_before": [round(x, 2) for x in load],
        "cpu_count": os.cpu_count(),
    })
    if sweep:
        result["sweep"] = sweep
    # The largest fleet of this run (and its sweep) that kept up in real time; 0 if none did.
    result["devices_sustained"] = max((r["devices"] for r in [result, *sweep] if r["kept_up"]), default=0)
    text = json.dumps(result, indent=2)
    print(text)  # noqa: T201 - the benchmark's output
    if args.json is not None:
        args.json.write_text(text + "\n")
    return 0
