"""``iomt sim``: run a fleet of simulated patients against a broker."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import threading
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    from iomt.cli import add_common

    p: argparse.ArgumentParser = sub.add_parser("sim", help="run simulated patients publishing over MQTT")
    add_common(p)
    p.add_argument("--patients", type=int, help="number of patients (default 10)")
    p.add_argument("--duration", type=float, default=None, help="seconds to run (default: until Ctrl-C)")
    p.add_argument("--site", help="site name")
    p.add_argument("--seed", type=int, help="random seed")
    p.add_argument("--report", type=Path, help="write what was published (per-stream counts) as JSON here")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from firmware_sim.config import SimConfig
    from firmware_sim.fleet import Fleet, default_patients, patient_streams
    from iomt.cli import environment
    from iomt.config import load_config
    from iomt.transport.mqtt import MqttBus

    config = load_config(
        SimConfig, "sim", path=args.config, env=environment(),
        overrides={"mqtt.url": args.broker, "patients": args.patients, "site": args.site, "seed": args.seed},
    )
    streams = []
    for patient in default_patients(config.patients, config.seed):
        streams.extend(patient_streams(patient, config.ecg_hz, config.acc_hz))
    bus = MqttBus(config.mqtt, client_id=f"iomt-sim-{config.site}-{config.seed}-{threading.get_native_id()}")
    bus.start()
    fleet = Fleet(bus, config.site, streams, qos=config.qos)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: fleet.stop())
    log.info("simulating %d patients (%d streams) on %s", config.patients, len(streams), config.mqtt.url)
    report = fleet.run(args.duration if args.duration is not None else float("inf"))
    bus.stop()
    log.info("published %d messages (%d late)", report.published, report.late_frames)
    if args.report is not None:
        args.report.write_text(json.dumps(report.as_dict()))
    return 0
