"""``iomt broker``: run the embedded MQTT broker on its own."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "broker", help="run the embedded MQTT broker (amqtt; for demos — use mosquitto for load)",
        description="Authenticates clients against a device registry (--registry; see `iomt devices`) and "
        "enforces its topic grants; with --tls-cert/--tls-key it listens with TLS only.",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=1883)
    p.add_argument("--registry", type=Path, help="device registry (SQLite) to authenticate clients against")
    p.add_argument("--tls-cert", type=Path, help="certificate of the TLS listener (PEM)")
    p.add_argument("--tls-key", type=Path, help="private key of the TLS listener (PEM)")
    p.add_argument("--allow-anonymous", action="store_true",
                   help="accept clients without credentials (only on a loopback address; for tests)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from iomt_app.brokers.embedded import BrokerSecurity, InsecureBrokerError, serve

    if (args.tls_cert is None) != (args.tls_key is None):
        raise SystemExit("iomt broker: --tls-cert and --tls-key go together")
    security = BrokerSecurity(args.registry, args.tls_cert, args.tls_key, args.allow_anonymous)
    try:
        asyncio.run(serve(args.host, args.port, security=security))
    except InsecureBrokerError as exc:
        print(f"iomt broker: {exc}", file=sys.stderr)  # noqa: T201 - user-facing error
        return 2
    return 0
