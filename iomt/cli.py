"""The ``iomt`` command. Each tier registers its own subcommands; heavy imports happen only when a
subcommand runs, so ``iomt edge`` works with just the ``[edge]`` extra installed."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from iomt import __version__
from iomt.config import ConfigError

#: Modules with ``register(subparsers)``; order is the order in ``iomt --help``.
#: A module that is not present (e.g. ``cloud`` in an edge-only install) is skipped.
COMMAND_MODULES = (
    "iomt.demo_cli",
    "firmware_sim.cli",
    "edge.cli",
    "gateway.cli",
    "cloud.cli",
    "iomt.bench_cli",
    "iomt.broker_cli",
)


def add_common(parser: argparse.ArgumentParser) -> None:
    """Options every long-running tier takes: a config file and the broker URL."""
    parser.add_argument("--config", type=Path, help="TOML config file (see README for the sections)")
    parser.add_argument("--broker", metavar="URL", help="MQTT broker URL, e.g. mqtt://127.0.0.1:1883")


def environment() -> dict[str, str]:
    """The process environment, read here once and handed to the config loader."""
    return dict(os.environ)


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = argparse.ArgumentParser(prog="iomt", description="IoMT edge streaming system")
    parser.add_argument("--version", action="version", version=f"iomt {__version__}")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        if _module_exists(name):
            importlib.import_module(name).register(sub)
    return parser


def _module_exists(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, args.log_level),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    func: Any = args.func
    try:
        return int(func(args) or 0)
    except ConfigError as exc:
        print(f"iomt {args.command}: {exc}", file=sys.stderr)  # noqa: T201 - user-facing error
        return 2
    except KeyboardInterrupt:
        return 130
