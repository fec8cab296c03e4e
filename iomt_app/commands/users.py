"""``iomt users add|passwd|role|remove|list|token``: the people who may use the gateway's API and page.

Works on the gateway's state file (also while the gateway runs: a removed user or a changed password
takes effect at its next request). Passwords never go on the command line: without
``--password-stdin`` one is generated and printed once. Every change is written to the audit log.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from iomt_app.commands.state import add_paths, audit_file, cli_actor, state_file

ROLES = ("viewer", "clinician", "admin")


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("users", help="manage the people who use the API and page")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="add a user (a password is generated unless --password-stdin)")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, required=True, help="viewer < clinician < admin")
    add.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    passwd = actions.add_parser("passwd", help="set a new password (ends the user's sessions and tokens)")
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true", help="read it from stdin instead of generating")
    role = actions.add_parser("role", help="change a user's role")
    role.add_argument("name")
    role.add_argument("role", choices=ROLES)
    remove = actions.add_parser("remove", help="remove a user and end their sessions and tokens")
    remove.add_argument("name")
    actions.add_parser("list", help="users and roles")
    token = actions.add_parser("token", help="an API token for a user (for scripts; printed once)")
    token.add_argument("name")
    token.add_argument("--label", default="cli", help="what the token is for")
    token.add_argument("--days", type=float, default=30.0, help="lifetime in days (default 30)")
    for parser in actions.choices.values():
        add_paths(parser)
        parser.set_defaults(func=run)


def _password(args: argparse.Namespace) -> tuple[str, bool]:
    """(password, generated)."""
    from gateway.auth import passwords

    if args.password_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        return passwords.check_policy(line), False
    return passwords.generate(), True


def _when(t_us: int) -> str:
    return datetime.fromtimestamp(t_us / 1e6, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from gateway.audit import AuditLog
    from gateway.auth.passwords import PasswordError
    from gateway.auth.users import UserError, UserStore

    store = UserStore(state_file(args, env))
    log = AuditLog(audit_file(args, env))
    actor = cli_actor()
    out = sys.stdout
    try:
        if args.action == "list":
            for user in store.users():
                print(f"{user.name:<24} {user.role.value:<10} since {_when(user.created_us)}", file=out)
            return 0
        if args.action == "add":
            password, generated = _password(args)
            user = store.add(args.name, args.role, password)
            log.append(actor, "user.add", f"user:{user.name}", {"role": user.role.value})
            print(f"added {user.name} ({user.role.value})", file=out)
        elif args.action == "passwd":
            password, generated = _password(args)
            store.set_password(args.name, password)
            log.append(actor, "user.passwd", f"user:{args.name}", {"generated": generated})
            print(f"new password set for {args.name}; their sessions and tokens ended", file=out)
        elif args.action == "role":
            user = store.set_role(args.name, args.role)
            log.append(actor, "user.role", f"user:{user.name}", {"role": user.role.value})
            print(f"{user.name} is now {user.role.value}", file=out)
            return 0
        elif args.action == "remove":
            store.remove(args.name)
            log.append(actor, "user.remove", f"user:{args.name}")
            print(f"removed {args.name}", file=out)
            return 0
        else:  # token
            if args.days <= 0:
                raise UserError("--days must be positive")
            issued = store.issue_token(args.name, args.label, args.days * 86_400)
            log.append(actor, "token.issue", f"user:{args.name}",
                       {"label": args.label, "expires_us": issued.expires_us})
            print(f"API token for {args.name} ({issued.role.value}), valid until {_when(issued.expires_us)} "  # noqa: T201
                  "— shown once; send it as 'Authorization: Bearer <token>':", file=sys.stderr)
            print(issued.secret, file=out)
            return 0
        if generated:
            print(f"password (shown once, stored only as a hash): {password}", file=out)
        return 0
    except (UserError, PasswordError) as exc:
        print(f"iomt users {args.action}: {exc}", file=sys.stderr)  # noqa: T201
        return 2
    finally:
        store.close()
        log.close()
