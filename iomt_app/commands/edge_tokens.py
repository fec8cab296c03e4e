"""``iomt edge-tokens issue|revoke|list``: the per-edge tokens the gateway's uplink accepts.

A token is shown once (or written to ``--out`` readable by its owner only) and kept only as a hash;
issuing a new one for a node revokes the old one at once. Until the device registry issues edge
credentials, these are the edges' credentials at the gateway.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from iomt_app.commands.state import add_paths, audit_file, cli_actor, state_file


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("edge-tokens", help="manage the edges' uplink tokens")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    issue = actions.add_parser("issue", help="a new token for an edge node (replaces its old one)")
    issue.add_argument("node")
    issue.add_argument("--out", type=Path, help="write the token to this file (0600) instead of printing it")
    revoke = actions.add_parser("revoke", help="revoke an edge node's token")
    revoke.add_argument("node")
    actions.add_parser("list", help="edge nodes holding a token")
    for parser in actions.choices.values():
        add_paths(parser)
        parser.set_defaults(func=run)


def write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(path, 0o600)


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from gateway.audit import AuditLog
    from gateway.auth.edges import EdgeTokens

    tokens = EdgeTokens(state_file(args, env))
    try:
        if args.action == "list":
            for node, created_us in tokens.nodes():
                print(f"{node:<32} issued {created_us / 1e6:.0f}")  # noqa: T201
            return 0
        log = AuditLog(audit_file(args, env))
        try:
            if args.action == "revoke":
                if not tokens.revoke(args.node):
                    print(f"iomt edge-tokens revoke: {args.node!r} holds no token", file=sys.stderr)  # noqa: T201
                    return 2
                log.append(cli_actor(), "edge.token.revoke", f"edge:{args.node}")
                print(f"revoked the token of {args.node}")  # noqa: T201
                return 0
            try:
                token = tokens.issue(args.node)
            except ValueError as exc:
                print(f"iomt edge-tokens issue: {exc}", file=sys.stderr)  # noqa: T201
                return 2
            log.append(cli_actor(), "edge.token.issue", f"edge:{args.node}")
            if args.out is not None:
                write_private(args.out, token + "\n")
                print(f"token of {args.node} written to {args.out} (uplink_token_file)")  # noqa: T201
            else:
                print(token)  # noqa: T201 - shown once, deliberately not logged
            return 0
        finally:
            log.close()
    finally:
        tokens.close()
