"""``iomt bench TARGET``: benchmarks. Each target is a module of the ``benchmarks`` package that
registers itself with ``register(subparsers)``; every benchmark prints its figures and writes JSON."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
from collections.abc import Callable, Mapping
from typing import Any

from iomt_app.commands import Handler

#: target name -> modules with ``register(subparsers)``, the first one present is used; a target with
#: none present is skipped.
BENCH_MODULES = {
    "sim": ("benchmarks.sim",),
    "edge": ("benchmarks.edge",),
    "store": ("benchmarks.store",),
    "dashboard": ("benchmarks.dashboard",),
    "station": ("benchmarks.station",),
    "train": ("benchmarks.train",),
    "mqtt": ("benchmarks.mqtt",),
    "bodies": ("benchmarks.bodies",),
    "broker-restart": ("benchmarks.broker_restart",),
    "fuzz": ("benchmarks.fuzz",),
    "faults": ("benchmarks.fault_cases",),
}


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("bench", help="run a benchmark (prints figures, writes JSON)")
    targets = p.add_subparsers(dest="target", metavar="TARGET", required=True)
    for candidates in BENCH_MODULES.values():
        module = next((m for m in candidates if _exists(m)), None)
        if module is not None:
            importlib.import_module(module).register(targets)
    # A benchmark's handler takes only its arguments: it reads no configuration from the environment.
    for parser in targets.choices.values():
        parser.set_defaults(func=_without_environment(parser.get_default("func")))


def _without_environment(run: Callable[[argparse.Namespace], int]) -> Handler:
    def handler(args: argparse.Namespace, env: Mapping[str, str]) -> int:
        return run(args)

    return handler


def _exists(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False
