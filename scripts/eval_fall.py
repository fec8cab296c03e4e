"""Evaluate a fall model on a directory of real daily-activity recordings (CSV/WFDB, see
cloud/motion_files.py for the columns and units); phase 2 wires this as `iomt eval fall`.

    .venv/bin/python scripts/eval_fall.py --recordings DIR --model build/fall_v2/models/fall/fall.tflite
        [--acc-unit g|mg|m/s2] [--gyro-unit deg/s|rad/s] [--rate HZ] [--placement waist] [--out report.json]

Exit status 1 when a floor fails, 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--recordings", type=Path, required=True)
    p.add_argument("--model", type=Path, required=True, help=".tflite (its metadata JSON beside it)")
    p.add_argument("--acc-unit")
    p.add_argument("--gyro-unit")
    p.add_argument("--rate", type=float)
    p.add_argument("--placement")
    p.add_argument("--per-kind", type=int, default=100, help="simulated falls per kind")
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    from cloud.eval_fall import evaluate_fall
    from cloud.motion_files import RecordingError, load_directory

    try:
        recs = load_directory(args.recordings, acc_unit=args.acc_unit, gyro_unit=args.gyro_unit, rate_hz=args.rate,
                              placement=args.placement)
    except RecordingError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    report = evaluate_fall(recs, args.model, args.model.with_suffix(".json"), per_kind=args.per_kind)
    text = json.dumps(report, indent=1)
    if args.out:
        args.out.write_text(text + "\n")
    summary = {k: v["pass"] for k, v in report["floors"].items()}
    sys.stdout.write(json.dumps({"passed": report["passed"], "floors": summary}, indent=1) + "\n")
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
