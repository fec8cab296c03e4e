"""``iomt bench TARGET``: benchmarks. Each target lives beside the code it measures and registers
itself with ``register(subparsers)``; every benchmark prints its figures and writes JSON."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
from typing import Any

#: target name -> module with ``register(subparsers)``; missing modules are skipped.
BENCH_MODULES = {
    "sim": "firmware_sim.bench",
    "edge": "benchmarks.edge",
    "store": "gateway.bench",
    "train": "cloud.bench",
    "mqtt": "iomt.transport.bench",
}


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("bench", help="run a benchmark (prints figures, writes JSON)")
    targets = p.add_subparsers(dest="target", metavar="TARGET", required=True)
    for module in BENCH_MODULES.values():
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if found:
            importlib.import_module(module).register(targets)
