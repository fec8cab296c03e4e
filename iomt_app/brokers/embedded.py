"""The embedded broker (amqtt) that lets ``iomt demo`` run with no server installed.

amqtt is pure Python (~8.5k msg/s here): right for a demo of tens of patients, not for load. Point
the system at mosquitto (``--broker mqtt://host:port``) for anything bigger.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Any

log = logging.getLogger(__name__)


def broker_config(host: str, port: int) -> dict[str, Any]:
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}", "max_connections": 1000}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }


async def serve(host: str, port: int, stop: asyncio.Event | None = None) -> None:
    """Run an amqtt broker on ``host:port`` until ``stop`` is set (or SIGTERM/SIGINT)."""
    from amqtt.broker import Broker

    # amqtt logs every probe connection (a port check, a client that gave up) as an ERROR.
    for name in ("amqtt", "transitions"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    broker = Broker(broker_config(host, port))
    await broker.start()
    log.info("embedded MQTT broker listening on %s:%d", host, port)
    try:
        await stop.wait()
    finally:
        await broker.shutdown()
