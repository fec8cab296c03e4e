"""Shared by the commands that work on the gateway's state and audit files: where they are.

Each file is the one given on the command line, or else the one the gateway's config names
(``--config`` and ``IOMT_GATEWAY__*``; by default beside ``var/gateway.sqlite``).
"""

from __future__ import annotations

import argparse
import getpass
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gateway.config import GatewayConfig


def add_paths(parser: argparse.ArgumentParser, *, state: bool = True, audit_flag: str = "--audit") -> None:
    parser.add_argument("--config", type=Path, help="the gateway's TOML config file (to find its files)")
    if state:
        parser.add_argument("--state", type=Path, metavar="FILE",
                            help="the state SQLite file (users, edge tokens; default: the gateway config's)")
    parser.add_argument(audit_flag, type=Path, dest="audit", metavar="FILE",
                        help="the audit log SQLite file (default: the gateway config's)")


def _gateway_config(args: argparse.Namespace, env: Mapping[str, str]) -> GatewayConfig:
    from gateway.config import GatewayConfig
    from iomt.config import load_config

    return load_config(GatewayConfig, "gateway", path=args.config, env=env)


def state_file(args: argparse.Namespace, env: Mapping[str, str]) -> Path:
    if getattr(args, "state", None) is not None:
        return Path(args.state)
    return _gateway_config(args, env).state_file()


def audit_file(args: argparse.Namespace, env: Mapping[str, str]) -> Path:
    if args.audit is not None:
        return Path(args.audit)
    return _gateway_config(args, env).audit_file()


def cli_actor() -> str:
    """The audit log's actor for a command run on the gateway's host: ``cli:<OS user>``."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"
