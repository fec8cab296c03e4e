"""``iomt devices enrol|rotate|revoke|list|sync``: the device registry from the command line.

The registry comes from ``--config FILE`` (section ``[registry]``, e.g. the ``registry.toml`` the
demo and compose write), ``IOMT_REGISTRY__*`` and ``--registry``. Secrets are printed once (or
written, owner-only, to ``--out``) and never logged.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

KINDS = ("device", "edge", "gateway")


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "devices", help="enrol, rotate, revoke and list devices, edges and gateways (the device registry)",
        description="Manages who may use the MQTT broker. A revocation takes effect at once, without restarting "
        "the broker, and disconnects the client if it is connected.",
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, help="TOML file with a [registry] section (e.g. security/registry/"
                        "registry.toml)")
    common.add_argument("--registry", type=Path, help="the registry's SQLite file")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    e = actions.add_parser("enrol", parents=[common], help="enrol a device, edge or gateway; prints its secrets once")
    e.add_argument("name", help="its identity: the device id, the edge's node id, or the gateway's name")
    e.add_argument("--kind", choices=KINDS, default="device")
    e.add_argument("--site", required=True, help="its site ('+' for a gateway following every site)")
    e.add_argument("--no-key", action="store_true", help="devices: issue no end-to-end encryption key")
    e.add_argument("--out", type=Path, help="write the secrets as JSON to this file (owner-only) instead of printing")
    e.set_defaults(func=_enrol)

    r = actions.add_parser("rotate", parents=[common], help="issue new credentials (the old ones stop working)")
    r.add_argument("name")
    r.add_argument("--new-key", action="store_true", help="devices: also a new end-to-end key version")
    r.add_argument("--out", type=Path, help="write the secrets as JSON to this file (owner-only) instead of printing")
    r.set_defaults(func=_rotate)

    v = actions.add_parser("revoke", parents=[common], help="revoke at once (a connected client is disconnected)")
    v.add_argument("name")
    v.set_defaults(func=_revoke)

    ls = actions.add_parser("list", parents=[common], help="list the registry")
    ls.add_argument("--kind", choices=KINDS)
    ls.add_argument("--site")
    ls.add_argument("--active", action="store_true", help="leave out revoked identities")
    ls.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    ls.set_defaults(func=_list)

    s = actions.add_parser("sync", parents=[common], help="push every revocation to the broker again")
    s.set_defaults(func=_sync)


def _open(args: argparse.Namespace, env: Mapping[str, str]) -> Any:
    from gateway.registry.config import RegistryConfig, open_registry
    from iomt.config import load_config

    config = load_config(RegistryConfig, "registry", path=args.config, env=env, overrides={"path": args.registry})
    return open_registry(config)


def _run(action: Any) -> int:
    from gateway.registry.records import RegistryError

    try:
        return int(action())
    except RegistryError as exc:
        print(f"iomt devices: {exc}", file=sys.stderr)  # noqa: T201 - user-facing error
        return 2


def _show(issued: Any, out: Path | None, verb: str) -> int:
    from gateway.registry.keys import write_private

    principal = issued.principal
    secrets = {"name": principal.name, "kind": str(principal.kind), "site": principal.site,
               "mqtt_username": principal.username, "mqtt_password": issued.password}
    if issued.uplink_token is not None:
        secrets["uplink_token"] = issued.uplink_token
    if issued.device_key is not None:
        secrets["device_key_id"] = issued.device_key.key_id
        secrets["device_key"] = issued.device_key.key.hex()
    if out is not None:
        write_private(out, (json.dumps(secrets, indent=2) + "\n").encode())
        print(f"{verb} {principal.kind} {principal.name} (site {principal.site}); secrets written to {out}")  # noqa: T201
        return 0
    print(f"{verb} {principal.kind} {principal.name} (site {principal.site}); shown once, store them now:")  # noqa: T201
    for key, value in secrets.items():
        if key not in ("name", "kind", "site"):
            print(f"  {key}: {value}")  # noqa: T201 - the one time a secret is shown, by request
    return 0


def _actor() -> str:
    """Who made a change from the command line, for the audit hook."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _enrol(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    return _run(lambda: _show(_open(args, env).enrol(args.name, args.kind, args.site, device_key=not args.no_key,
                                                     actor=_actor()), args.out, "enrolled"))


def _rotate(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    return _run(lambda: _show(_open(args, env).rotate(args.name, new_device_key=args.new_key, actor=_actor()),
                              args.out, "rotated"))


def _revoke(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    def action() -> int:
        principal = _open(args, env).revoke(args.name, actor=_actor())
        print(f"revoked {principal.kind} {principal.name} (site {principal.site})")  # noqa: T201
        return 0

    return _run(action)


def _list(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    def action() -> int:
        principals = _open(args, env).list(args.kind, args.site, include_revoked=not args.active)
        if args.json:
            for p in principals:
                print(json.dumps(p.as_dict()))  # noqa: T201
            return 0
        print(f"{'NAME':<24} {'KIND':<8} {'SITE':<16} {'STATUS':<8} CREDENTIALS")  # noqa: T201
        for p in principals:
            print(f"{p.name:<24} {p.kind:<8} {p.site:<16} {p.status:<8} v{p.generation}")  # noqa: T201
        return 0

    return _run(action)


def _sync(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    def action() -> int:
        registry = _open(args, env)
        revoked = registry.sync()
        print(f"{registry.broker.description}: {len(revoked)} revocations pushed")  # noqa: T201
        return 0

    return _run(action)
