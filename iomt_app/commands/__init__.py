"""One module per subcommand group of ``iomt``, each with ``register(subparsers)``.

A subcommand's handler takes the parsed arguments and the process environment (read once by
:mod:`iomt_app.cli`), loads its tier's config and calls the tier's entry function; tier modules are
imported inside the handler so that an install with one tier's extra runs that tier's command.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from pathlib import Path

#: ``args.func`` of every subcommand: (parsed arguments, environment) -> exit status.
Handler = Callable[[argparse.Namespace, Mapping[str, str]], int]


def add_common(parser: argparse.ArgumentParser) -> None:
    """Options every long-running tier takes: a config file and the broker URL."""
    parser.add_argument("--config", type=Path, help="TOML config file (see README for the sections)")
    parser.add_argument("--broker", metavar="URL", help="MQTT broker URL, e.g. mqtt://127.0.0.1:1883")
