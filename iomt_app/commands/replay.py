"""``iomt replay``: replay a real recording (WFDB or CSV) as a device."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from iomt.wire.descriptor import Placement
from iomt_app.commands import add_common


def register(sub: Any) -> None:
    r: argparse.ArgumentParser = sub.add_parser(
        "replay", help="replay a real recording (WFDB or CSV) or real images (DICOM, PNG, JPEG) as a device")
    add_common(r)
    r.add_argument("file", type=Path, help="WFDB record (.hea, or the path without extension) or .csv file; with"
                   " --kind image a DICOM/PNG/JPEG file or a directory of them")
    r.add_argument("--kind", required=True, choices=["ecg", "motion", "emotion", "image"])
    r.add_argument("--device", help="device id to publish as (default: from the file name)")
    r.add_argument("--site", help="site name")
    r.add_argument("--channel", help="ECG channel name or index (default: the first ECG-like channel)")
    r.add_argument("--rate", type=float, help="device rate for the main stream (ECG or motion), Hz")
    r.add_argument("--csv-rate", type=float, help="sample rate of a CSV without a time column")
    r.add_argument("--acc-unit", choices=["g", "mg", "m/s2"],
                   help="acceleration unit of a motion recording that does not state it (converted to g)")
    r.add_argument("--gyro-unit", choices=["deg/s", "rad/s"],
                   help="angular-rate unit of a motion recording that does not state it (converted to deg/s)")
    r.add_argument("--placement", choices=[p.value for p in Placement],
                   help="motion: where the sensor was worn, declared on the device's retained descriptor (default:"
                   " the recording's sidecar <name>.json {\"placement\": ...}, else unknown)")
    r.add_argument("--annotator", default="atr", help="WFDB annotation extension (default atr)")
    r.add_argument("--speed", type=float, default=1.0, help="pace: 1 = real time, 10 = ten times faster")
    r.add_argument("--fast", action="store_true", help="as fast as possible (no pacing)")
    r.add_argument("--interval", type=float, default=1.0, help="image: seconds between images (default 1)")
    r.add_argument("--chunk-size", type=int, default=4096, help="image: bytes per chunk (default 4096)")
    r.add_argument("--max-frames", type=int, default=1, help="image: frames per multi-frame DICOM (default 1)")
    r.add_argument("--truth", type=Path, help="also append the annotations as truth to this JSON-lines file")
    r.add_argument("--report", type=Path, help="write what was published as JSON here")
    r.set_defaults(func=run)


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from firmware_sim.config import SimConfig
    from firmware_sim.image_files import ImageFileError
    from firmware_sim.replay import ReplayError
    from firmware_sim.service import run_image_replay, run_replay
    from iomt.config import load_config

    config = load_config(SimConfig, "sim", path=args.config, env=env,
                         overrides={"mqtt.url": args.broker, "site": args.site})
    if args.speed <= 0:
        raise SystemExit("iomt replay: --speed must be positive")
    if args.kind == "image" and (args.interval <= 0 or args.max_frames < 1 or not 256 <= args.chunk_size <= 262_144):
        raise SystemExit("iomt replay: --interval must be positive, --max-frames at least 1 and --chunk-size"
                         " 256..262144")
    try:
        if args.kind == "image":
            report = run_image_replay(config, args.file, device_id=args.device, interval_s=args.interval,
                                      chunk_size=args.chunk_size, max_frames=args.max_frames, speed=args.speed,
                                      fast=args.fast, truth_path=args.truth)
        else:
            report = run_replay(
                config, args.file, args.kind, device_id=args.device, channel=args.channel, csv_rate_hz=args.csv_rate,
                annotator=args.annotator, rate_hz=args.rate, speed=args.speed, fast=args.fast,
                truth_path=args.truth, acc_unit=args.acc_unit, gyro_unit=args.gyro_unit, placement=args.placement,
            )
    except (ReplayError, ImageFileError) as exc:
        print(f"iomt replay: {exc}", file=sys.stderr)  # noqa: T201 - user-facing error
        return 2
    if args.report is not None:
        args.report.write_text(json.dumps(report.as_dict()))
    return 0
