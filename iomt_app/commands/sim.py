"""``iomt sim``: run simulated patients against a broker (default mix or a scenario file), or write a
labelled dataset to disk (``iomt sim dataset``)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from firmware_sim.rates import RATE_NAMES
from iomt_app.commands import add_common


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("sim", help="run simulated patients publishing over MQTT")
    add_common(p)
    p.add_argument("--patients", type=int, help="number of patients of the default mix (default 10)")
    p.add_argument("--scenario", type=Path, help="TOML scenario file (fleet, schedules, faults)")
    p.add_argument("--duration", type=float, default=None, help="seconds to run (default: until Ctrl-C)")
    p.add_argument("--site", help="site name")
    p.add_argument("--seed", type=int, help="random seed")
    p.add_argument("--report", type=Path, help="write what was published (per-stream counts) as JSON here")
    p.add_argument("--truth", type=Path, help="also append the ground truth to this JSON-lines file")
    p.add_argument("--rates", choices=RATE_NAMES, help=(
        "random falls, arrhythmia episodes and deteriorations: realistic (default; clinically plausible), "
        "demo (raised so that something happens within minutes, not clinical), enriched (training data)"))
    p.add_argument("--deterioration", action="append", default=[], metavar="COURSE:PATIENT:START_S:DURATION_S",
                   help="force a deterioration course (sepsis, respiratory, haemorrhage) on a patient, e.g. "
                   "sepsis:patient-0002:60:600 (onset at 60 s, worst at 660 s); repeatable")
    p.set_defaults(func=run)
    modes = p.add_subparsers(dest="sim_mode", metavar="MODE")
    d = modes.add_parser("dataset", help="write labelled recordings to disk (no MQTT), faster than real time")
    d.add_argument("--kind", required=True, choices=["ecg", "motion", "emotion", "vitals"])
    d.add_argument("--subjects", type=int, required=True, help="number of subjects (one recording each)")
    d.add_argument("--seconds", type=float, required=True, help="length of each recording")
    d.add_argument("--seed", type=int, default=0, help="seed; the same seed gives the same signals")
    d.add_argument("--rate", type=float, help="ECG rate (ecg, emotion), motion sensor rate (motion) or readings "
                   "per second (vitals), Hz")
    d.add_argument("--rates", choices=RATE_NAMES, default="enriched",
                   help="event-rate profile (default enriched: dense in events, for training)")
    d.add_argument("--out", type=Path, required=True, help="directory for index.json and one .npz per recording")
    d.set_defaults(func=run_dataset)


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from firmware_sim.config import SimConfig
    from firmware_sim.scenario import ScenarioError
    from firmware_sim.service import run_fleet, scenario_for
    from iomt.config import load_config

    config = load_config(
        SimConfig, "sim", path=args.config, env=env,
        overrides={"mqtt.url": args.broker, "patients": args.patients, "site": args.site, "seed": args.seed,
                   "rates": args.rates},
    )
    try:
        scenario = scenario_for(config, args.scenario, seed=args.seed, site=args.site,
                                deteriorations=args.deterioration)
        report = run_fleet(config, scenario, duration_s=args.duration, truth_path=args.truth)
    except ScenarioError as exc:
        print(f"iomt sim: {exc}", file=sys.stderr)  # noqa: T201 - user-facing error
        return 2
    if args.report is not None:
        args.report.write_text(json.dumps(report.as_dict()))
    return 0


def run_dataset(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from firmware_sim.service import make_dataset

    if args.subjects < 1 or args.seconds <= 0:
        raise SystemExit("iomt sim dataset: --subjects must be >= 1 and --seconds > 0")
    make_dataset(args.kind, args.subjects, args.seconds, args.seed, args.out, rate_hz=args.rate, rates=args.rates)
    return 0
