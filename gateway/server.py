"""Run the gateway: HTTP server, store and (optionally) the broker listener, until told to stop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiohttp import web

from gateway.app import STORE, create_app
from gateway.auth.edges import EdgeAuthority
from gateway.config import GatewayConfig
from gateway.listener import BrokerListener
from gateway.store.base import Store
from gateway.tls import server_context
from iomt.transport.mqtt import MqttBus

log = logging.getLogger(__name__)

#: How often what the broker listener keeps while the store is down is written again.
RETRY_S = 2.0


@dataclass
class RunningGateway:
    app: web.Application
    port: int
    scheme: str = "http"

    @property
    def store(self) -> Store:
        return self.app[STORE]

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"


class GatewayStartError(RuntimeError):
    pass


@asynccontextmanager
async def running_gateway(
    config: GatewayConfig, store: Store | None = None, edges: EdgeAuthority | None = None
) -> AsyncIterator[RunningGateway]:
    """Serve the gateway for the duration of the ``async with`` block; edges authenticate against
    ``edges`` (default: the edge tokens in the state file)."""
    ssl_context = server_context(config.tls) if config.tls is not None else None
    app = create_app(config, store, edges)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port, ssl_context=ssl_context)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise GatewayStartError(
            f"cannot listen on {config.host}:{config.port} ({exc.strerror}); pass another --port"
        ) from exc
    server = getattr(site, "_server", None)
    sockets = getattr(server, "sockets", None) or []
    port = sockets[0].getsockname()[1] if sockets else config.port
    bus: MqttBus | None = None
    retrying: asyncio.Task[None] | None = None
    try:
        if config.mqtt is not None:
            bus = MqttBus(config.mqtt, client_id=f"iomt-gateway-{port}")
            listener = BrokerListener(bus, app[STORE], config.site)
            listener.start()
            await asyncio.get_running_loop().run_in_executor(None, bus.start)
            retrying = asyncio.create_task(_retry_waiting(listener))
        scheme = "https" if ssl_context is not None else "http"
        log.info("gateway listening on %s://%s:%d", scheme, config.host, port)
        yield RunningGateway(app, port, scheme)
    finally:
        if retrying is not None:
            retrying.cancel()
        if bus is not None:
            bus.stop()
        await runner.cleanup()


async def _retry_waiting(listener: BrokerListener, every_s: float = RETRY_S) -> None:
    """Write what the broker listener keeps while the store is down, as soon as the store answers again."""
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(every_s)
        if listener.pending:
            await loop.run_in_executor(None, listener.retry)
