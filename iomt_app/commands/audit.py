"""``iomt audit verify|list``: check the gateway's hash-chained audit log, and read it."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from iomt_app.commands.state import add_paths, audit_file


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("audit", help="verify or list the audit log")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    verify = actions.add_parser(
        "verify", help="recompute the hash chain: OK and the head, or the first bad entry (exit status 1)",
        description="Recompute the audit log's hash chain. Prints OK with the number of entries and the head "
        "hash (keep a copy elsewhere: a log rewritten whole, head included, is only caught against a head you "
        "kept), or the first entry that does not fit, and exits 1.",
    )
    verify.add_argument("--expect-head", metavar="HASH", help="also fail unless the head is this hash")
    listing = actions.add_parser("list", help="entries, oldest first")
    listing.add_argument("--since", type=int, default=0, help="start after this sequence number")
    listing.add_argument("--limit", type=int, default=None, help="at most this many entries")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    for parser in actions.choices.values():
        add_paths(parser, state=False, audit_flag="--db")
        parser.set_defaults(func=run)


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from gateway.audit import AuditLog

    path = audit_file(args, env)
    if not path.exists():
        print(f"iomt audit: {path} does not exist (pass --db FILE or the gateway's --config)")  # noqa: T201
        return 2
    log = AuditLog(path)
    try:
        if args.action == "verify":
            result = log.verify()
            if not result.ok:
                print(f"BROKEN: {result.problem} (first bad entry: {result.bad_seq}); "  # noqa: T201
                      f"{result.entries} entries verified before it, head of those {result.head}")
                return 1
            if args.expect_head is not None and args.expect_head != result.head:
                print(f"BROKEN: the head is {result.head}, not the expected {args.expect_head}")  # noqa: T201
                return 1
            print(f"OK: {result.entries} entries, head {result.head}")  # noqa: T201
            return 0
        for entry in log.entries(args.since, args.limit):
            if args.json:
                print(json.dumps({"seq": entry.seq, "t_us": entry.t_us, "actor": entry.actor,  # noqa: T201
                                  "action": entry.action, "target": entry.target, "detail": dict(entry.detail),
                                  "hash": entry.hash}))
            else:
                when = datetime.fromtimestamp(entry.t_us / 1e6, UTC).strftime("%Y-%m-%d %H:%M:%S.%fZ")
                detail = json.dumps(dict(entry.detail), separators=(",", ":"))
                print(f"{entry.seq:>6} {when} {entry.actor:<20} {entry.action:<22} {entry.target} {detail}")  # noqa: T201
        return 0
    finally:
        log.close()
