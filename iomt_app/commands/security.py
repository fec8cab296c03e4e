"""``iomt security init``: first-run security for a deployment (compose's init service runs it).

Creates, under ``--dir``, what :mod:`iomt_app.provision` describes: a local CA, the broker's and the
gateway's certificates, an identity with credentials for the gateway, each edge and each device,
mosquitto's dynamic security config (``--dynsec``) and the admin user, whose password it prints
once. Run again, it keeps what exists and adds only what is new.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("security", help="first-run security: CA, certificates, credentials")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    i = actions.add_parser("init", help="create what is missing under --dir (prints the admin password once)")
    i.add_argument("--dir", type=Path, required=True, help="where the CA, certificates and credentials go")
    i.add_argument("--site", default="default", help="site of the edges and devices (default 'default')")
    i.add_argument("--edge", action="append", default=[], metavar="NODE", help="an edge node to enrol (repeat)")
    i.add_argument("--patients", type=int, default=0,
                   help="enrol the devices of this many simulated patients (and the default mix's imaging devices)")
    i.add_argument("--device", action="append", default=[], metavar="ID", help="a device to enrol (repeat)")
    i.add_argument("--gateway", default="gateway", help="the gateway's identity (default 'gateway')")
    i.add_argument("--broker-host", action="append", default=[], metavar="HOST",
                   help="a name the broker is reached by (its certificate's SANs; default localhost)")
    i.add_argument("--gateway-host", action="append", default=[], metavar="HOST",
                   help="a name the gateway is reached by (its HTTPS certificate's SANs; default localhost)")
    i.add_argument("--broker-url", help="broker URL written into the credential files, e.g. mqtts://mosquitto:8883")
    i.add_argument("--dynsec", action="store_true", help="write mosquitto's dynamic security config too")
    i.add_argument("--broker-owner", metavar="UID:GID", help="owner of the broker's files (compose: 1883:1883)")
    i.set_defaults(func=_init)


def _init(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from iomt_app.provision import LOCAL_HOSTS, SecurityPlan, provision

    devices = list(args.device)
    if args.patients:
        from firmware_sim.scenario import DEFAULT_IMAGING_DEVICES, default_scenario, device_ids

        devices += device_ids(default_scenario(args.patients, site=args.site, imaging_devices=DEFAULT_IMAGING_DEVICES))
    owner = None
    if args.broker_owner:
        try:
            uid, gid = (int(x) for x in args.broker_owner.split(":"))
        except ValueError:
            raise SystemExit("iomt security init: --broker-owner must be UID:GID, e.g. 1883:1883") from None
        owner = (uid, gid)
    plan = SecurityPlan(
        site=args.site, edges=tuple(args.edge), devices=tuple(dict.fromkeys(devices)), gateway=args.gateway,
        broker_hosts=tuple(args.broker_host) or LOCAL_HOSTS, gateway_hosts=tuple(args.gateway_host) or LOCAL_HOSTS,
        broker_url=args.broker_url, dynsec=args.dynsec, broker_owner=owner,
    )
    done = provision(args.dir, plan)
    print(f"security in {done.root}: {len(done.enrolled)} identities enrolled this run")  # noqa: T201
    if done.admin_password is not None:
        print(f"admin password (shown once, stored only as a hash in {done.user_state}): "  # noqa: T201
              f"{done.admin_password}")
    return 0
