"""``python -m cloud.real_emotion.fetch [--cache build/real_data]``: fetch the real EDA/PPG/ECG
recordings (:data:`cloud.real_emotion.sources.SOURCES`) and list what loads from them."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from cloud.real_emotion import recordings, sources


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, default=sources.DEFAULT_CACHE, help="cache folder (git-ignored)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    sources.fetch(args.cache)
    lines = []
    for rec in recordings.load_all(args.cache):
        chans = ", ".join(f"{s} {rec.rates[s]:g} Hz {len(x) / rec.rates[s]:.0f} s" for s, x in rec.signals.items())
        lines.append(f"{rec.name:32s} {chans}  ({rec.units})")
    lines.append(f"left out: {sources.LEFT_OUT}")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
