"""The ``iomt`` command. Each subcommand group is a module of :mod:`iomt_app.commands` whose tier
imports happen only when its subcommand runs, so ``iomt edge`` works with just the ``[edge]`` extra
installed. The process environment is read here, once, and handed to every command."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from iomt import __version__
from iomt.config import ConfigError
from iomt_app.commands import (
    Handler,
    audit,
    bench,
    broker,
    demo,
    devices,
    edge,
    edge_tokens,
    gateway,
    replay,
    security,
    sim,
    train,
    users,
)

#: Modules with ``register(subparsers)``; order is the order in ``iomt --help``.
COMMAND_MODULES = (demo, sim, replay, edge, gateway, users, edge_tokens, audit, train, bench, broker, devices, security)


def environment() -> dict[str, str]:
    """The process environment, read once per command and handed to the config loader."""
    return dict(os.environ)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="iomt", description="IoMT edge streaming system")
    parser.add_argument("--version", action="version", version=f"iomt {__version__}")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, args.log_level),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    func: Handler = args.func
    try:
        return int(func(args, environment()) or 0)
    except ConfigError as exc:
        print(f"iomt {args.command}: {exc}", file=sys.stderr)  # noqa: T201 - user-facing error
        return 2
    except KeyboardInterrupt:
        return 130
