"""The embedded broker (amqtt) that lets ``iomt demo`` run with no server installed.

amqtt is pure Python (~8.5k msg/s here): right for a demo of tens of patients, not for load. Point
the system at mosquitto (``--broker mqtt://host:port``) for anything bigger.

Secure unless told otherwise: with a device registry it accepts only enrolled identities with their
current password and enforces the registry's topic grants (:mod:`iomt_app.brokers.registry_auth`);
with a certificate and key it listens with TLS only. Anonymous access is allowed only when asked
for, and only on a loopback address.

**It does not persist.** amqtt keeps sessions, subscriptions and queued messages in memory; its
optional session database (``amqtt.contrib.persistence``) saves sessions, subscriptions and retained
messages but not the QoS 1 messages in flight, and stores queued messages as text (a binary frame
cannot be saved). A crash of the embedded broker loses what it had acknowledged and not yet
delivered; use mosquitto (persistence on, see ``docker-compose.yml``) where that matters.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

PLUGIN = "iomt_app.brokers.registry_auth.RegistryPlugin"


@dataclass(frozen=True)
class BrokerSecurity:
    """How the embedded broker authenticates: the registry file, and a TLS certificate and key."""

    registry: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    allow_anonymous: bool = False


class InsecureBrokerError(ValueError):
    """The broker was asked to accept anonymous clients somewhere other than a loopback address."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def broker_config(host: str, port: int, security: BrokerSecurity | None = None) -> dict[str, Any]:
    security = security or BrokerSecurity()
    listener: dict[str, Any] = {"type": "tcp", "bind": f"{host}:{port}", "max_connections": 1000}
    if security.cert_file is not None:
        listener.update(ssl=True, certfile=str(security.cert_file), keyfile=str(security.key_file))
    if security.registry is not None:
        plugins: dict[str, Any] = {PLUGIN: {"registry": str(security.registry)}}
    elif security.allow_anonymous:
        if not is_loopback(host):
            raise InsecureBrokerError(
                f"refusing to accept anonymous MQTT clients on {host}: give a device registry (--registry), "
                "or bind a loopback address"
            )
        plugins = {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}}
    else:
        raise InsecureBrokerError("the embedded broker needs a device registry (--registry FILE) to authenticate "
                                  "clients, or --allow-anonymous on a loopback address")
    return {"listeners": {"default": listener}, "plugins": plugins}


async def serve(
    host: str, port: int, stop: asyncio.Event | None = None, security: BrokerSecurity | None = None
) -> None:
    """Run an amqtt broker on ``host:port`` until ``stop`` is set (or SIGTERM/SIGINT)."""
    from amqtt.broker import Broker

    from iomt_app.brokers.registry_auth import GuardedBroker

    config = broker_config(host, port, security)
    # amqtt logs every probe connection (a port check, a client that gave up) as an ERROR.
    for name in ("amqtt", "transitions"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    registry = security.registry if security is not None else None
    broker = GuardedBroker(config, registry) if registry is not None else Broker(config)
    await broker.start()
    log.info("embedded MQTT broker listening on %s:%d (%s, %s)", host, port,
             "TLS" if security and security.cert_file else "plain TCP",
             f"registry {registry}" if registry else "anonymous")
    try:
        await stop.wait()
    finally:
        await broker.shutdown()
