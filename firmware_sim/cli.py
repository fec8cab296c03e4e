"""``iomt sim``: run simulated patients against a broker (default mix or a scenario file), or write a
labelled dataset to disk (``iomt sim dataset``)."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    from iomt.cli import add_common

    p: argparse.ArgumentParser = sub.add_parser("sim", help="run simulated patients publishing over MQTT")
    add_common(p)
    p.add_argument("--patients", type=int, help="number of patients of the default mix (default 10)")
    p.add_argument("--scenario", type=Path, help="TOML scenario file (fleet, schedules, faults)")
    p.add_argument("--duration", type=float, default=None, help="seconds to run (default: until Ctrl-C)")
    p.add_argument("--site", help="site name")
    p.add_argument("--seed", type=int, help="random seed")
    p.add_argument("--report", type=Path, help="write what was published (per-stream counts) as JSON here")
    p.add_argument("--truth", type=Path, help="also append the ground truth to this JSON-lines file")
    p.set_defaults(func=run)
    _register_replay(sub)
    modes = p.add_subparsers(dest="sim_mode", metavar="MODE")
    d = modes.add_parser("dataset", help="write labelled recordings to disk (no MQTT), faster than real time")
    d.add_argument("--kind", required=True, choices=["ecg", "motion", "emotion"])
    d.add_argument("--subjects", type=int, required=True, help="number of subjects (one recording each)")
    d.add_argument("--seconds", type=float, required=True, help="length of each recording")
    d.add_argument("--seed", type=int, default=0, help="seed; the same seed gives the same signals")
    d.add_argument("--rate", type=float, help="ECG rate (ecg, emotion) or motion sensor rate (motion), Hz")
    d.add_argument("--out", type=Path, required=True, help="directory for index.json and one .npz per recording")
    d.set_defaults(func=run_dataset)


@contextlib.contextmanager
def _stop_on_signals(fleet: Any) -> Iterator[None]:
    """SIGTERM/SIGINT stop the fleet cleanly (it drains and reports); the old handlers come back after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    for sig in previous:
        signal.signal(sig, lambda *_: fleet.stop())
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run(args: argparse.Namespace) -> int:
    from firmware_sim.config import SimConfig
    from firmware_sim.fleet import Fleet
    from firmware_sim.scenario import ScenarioError, build_devices, default_scenario, load_scenario
    from firmware_sim.truth import TruthSink
    from iomt.cli import environment
    from iomt.config import load_config
    from iomt.transport.mqtt import MqttBus

    config = load_config(
        SimConfig, "sim", path=args.config, env=environment(),
        overrides={"mqtt.url": args.broker, "patients": args.patients, "site": args.site, "seed": args.seed},
    )
    try:
        if args.scenario is not None:
            scenario = load_scenario(args.scenario)
            updates: dict[str, Any] = {"qos": config.qos} if "qos" not in scenario.model_fields_set else {}
            if args.seed is not None:
                updates["seed"] = args.seed
            if args.site is not None:
                updates["site"] = args.site
            scenario = scenario.model_copy(update=updates)
        else:
            scenario = default_scenario(config.patients, config.seed, config.site, config.ecg_hz, config.acc_hz)
            scenario = scenario.model_copy(update={"qos": config.qos, "frame_s": config.frame_s})
        devices = build_devices(scenario)
    except ScenarioError as exc:
        print(f"iomt sim: {exc}", file=sys.stderr)  # noqa: T201 - user-facing error
        return 2
    duration = args.duration if args.duration is not None else scenario.duration_s
    streams = [s for d in devices for s in d.sources]
    bus = MqttBus(config.mqtt, client_id=f"iomt-sim-{scenario.site}-{scenario.seed}-{threading.get_native_id()}")
    bus.start()
    truth = TruthSink(bus if config.publish_truth else None, scenario.site, args.truth)
    fleet = Fleet(bus, scenario.site, streams, qos=scenario.qos, truth=truth, faults=list(scenario.faults),
                  seed=scenario.seed)
    log.info("simulating %d devices (%d streams) on %s", len(devices), len(streams), config.mqtt.url)
    with _stop_on_signals(fleet):
        report = fleet.run(duration if duration is not None else float("inf"))
    truth.close()
    bus.stop()
    log.info("published %d messages (%d late), %d truth events", report.published, report.late_frames,
             report.truth_events)
    if args.report is not None:
        args.report.write_text(json.dumps(report.as_dict()))
    return 0


def _register_replay(sub: Any) -> None:
    from iomt.cli import add_common

    r: argparse.ArgumentParser = sub.add_parser("replay", help="replay a real recording (WFDB or CSV) as a device")
    add_common(r)
    r.add_argument("file", type=Path, help="WFDB record (.hea, or the path without extension) or .csv file")
    r.add_argument("--kind", required=True, choices=["ecg", "motion", "emotion"])
    r.add_argument("--device", help="device id to publish as (default: from the file name)")
    r.add_argument("--site", help="site name")
    r.add_argument("--channel", help="ECG channel name or index (default: the first ECG-like channel)")
    r.add_argument("--rate", type=float, help="device rate for the main stream (ECG or motion), Hz")
    r.add_argument("--csv-rate", type=float, help="sample rate of a CSV without a time column")
    r.add_argument("--annotator", default="atr", help="WFDB annotation extension (default atr)")
    r.add_argument("--speed", type=float, default=1.0, help="pace: 1 = real time, 10 = ten times faster")
    r.add_argument("--fast", action="store_true", help="as fast as possible (no pacing)")
    r.add_argument("--truth", type=Path, help="also append the annotations as truth to this JSON-lines file")
    r.add_argument("--report", type=Path, help="write what was published as JSON here")
    r.set_defaults(func=run_replay)


def run_replay(args: argparse.Namespace) -> int:
    import re

    import numpy as np

    from firmware_sim.config import SimConfig
    from firmware_sim.fleet import Fleet
    from firmware_sim.replay import ReplayDevice, ReplayError, load
    from firmware_sim.truth import TruthSink
    from iomt.cli import environment
    from iomt.config import load_config
    from iomt.transport.mqtt import MqttBus

    config = load_config(SimConfig, "sim", path=args.config, env=environment(),
                         overrides={"mqtt.url": args.broker, "site": args.site})
    if args.speed <= 0:
        raise SystemExit("iomt replay: --speed must be positive")
    try:
        loaded = load(args.file, args.kind, channel=args.channel, rate=args.csv_rate, annotator=args.annotator)
    except ReplayError as exc:
        print(f"iomt replay: {exc}", file=sys.stderr)  # noqa: T201 - user-facing error
        return 2
    device_id = args.device or re.sub(r"[^A-Za-z0-9_.\-]", "-", f"replay-{loaded.name}")[:64]
    rates = {}
    if args.rate:
        rates = {"ecg": args.rate} if args.kind != "motion" else {"acc": args.rate, "gyro": args.rate}
    device = ReplayDevice(device_id, loaded, np.random.default_rng(0), config.frame_s, rates)
    bus = MqttBus(config.mqtt, client_id=f"iomt-replay-{device_id}-{threading.get_native_id()}")
    bus.start()
    truth = TruthSink(bus if config.publish_truth else None, config.site, args.truth)
    fleet = Fleet(bus, config.site, device.sources, qos=config.qos, truth=truth)
    log.info("replaying %s (%.1f s, %s) as %s", args.file, loaded.seconds, ", ".join(loaded.signals), device_id)
    with _stop_on_signals(fleet):
        report = fleet.run(device.frames * device.sources[0].frame_s + 1e-6, realtime=not args.fast,
                           speed=args.speed)
    truth.close()
    bus.stop()
    log.info("published %d messages, %d truth events", report.published, report.truth_events)
    if args.report is not None:
        args.report.write_text(json.dumps(report.as_dict()))
    return 0


def run_dataset(args: argparse.Namespace) -> int:
    import time

    from firmware_sim.dataset import generate, write_dataset

    if args.subjects < 1 or args.seconds <= 0:
        raise SystemExit("iomt sim dataset: --subjects must be >= 1 and --seconds > 0")
    start = time.perf_counter()
    index = write_dataset(args.out, generate(args.kind, args.subjects, args.seconds, args.seed, rate_hz=args.rate))
    wall = time.perf_counter() - start
    log.info("wrote %d %s recordings of %g s to %s in %.1f s (%.0fx real time)", args.subjects, args.kind,
             args.seconds, index, wall, args.subjects * args.seconds / max(wall, 1e-9))
    return 0
