"""``iomt demo``: the whole system in one command."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from firmware_sim.rates import RATE_NAMES


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "demo",
        help="run simulators, an edge node, the gateway, store and live page together",
        description="Runs the whole system on one machine. Without --broker it starts an embedded MQTT "
        "broker, so nothing needs to be installed or running. Open the printed URL to watch.",
    )
    p.add_argument("--patients", type=int, default=10, help="simulated patients (default 10)")
    p.add_argument("--duration", type=float, default=None, help="seconds to simulate (default: until Ctrl-C)")
    p.add_argument("--summary", type=Path, help="write the run's JSON summary here")
    p.add_argument("--broker", metavar="URL", help="use this MQTT broker instead of the embedded one")
    p.add_argument("--port", type=int, default=8080, help="HTTP port of the dashboard (default 8080)")
    p.add_argument("--workdir", type=Path, help="where the store and outbox go (default: a new temp dir)")
    p.add_argument("--drain-timeout", type=float, default=60.0, help="seconds to wait for the pipeline to drain")
    p.add_argument("--rates", choices=RATE_NAMES, default="demo", help=(
        "event rates of the simulated ward: demo (default here: raised so that falls, arrhythmias and "
        "deteriorations happen within minutes; not clinical) or realistic (clinically plausible, rare)"))
    p.add_argument("--deterioration", action="append", metavar="COURSE:PATIENT:START_S:DURATION_S", help=(
        "force a deterioration course (sepsis, respiratory, haemorrhage) on a patient; repeatable; 'none' for "
        "none (default: sepsis on the second patient from 60 s, at its worst 8 minutes later)"))
    p.set_defaults(func=run)


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    import asyncio

    from iomt_app.demo import DemoOptions, run_demo

    if args.patients < 1:
        raise SystemExit("iomt demo: --patients must be at least 1")
    if args.duration is not None and args.duration <= 0:
        raise SystemExit("iomt demo: --duration must be positive")
    options = DemoOptions(
        patients=args.patients, duration_s=args.duration, summary_path=args.summary, broker_url=args.broker,
        port=args.port, workdir=args.workdir, drain_timeout_s=args.drain_timeout, log_level=args.log_level,
        rates=args.rates,
        deteriorations=None if args.deterioration is None else tuple(d for d in args.deterioration if d != "none"),
    )
    return asyncio.run(run_demo(options))
