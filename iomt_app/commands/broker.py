"""``iomt broker``: run the embedded MQTT broker on its own."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Mapping
from typing import Any


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "broker", help="run the embedded MQTT broker (amqtt; for demos — use mosquitto for load)"
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=1883)
    p.set_defaults(func=run)


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from iomt_app.brokers.embedded import serve

    asyncio.run(serve(args.host, args.port))
    return 0
