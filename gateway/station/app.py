"""The station inside the gateway's application: opened and closed with it, its timer, its routes, and the
write path the uplink handler takes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from gateway.auth.context import AUDIT
from gateway.config import GatewayConfig
from gateway.live import alert_message
from gateway.state import HUB, STATION, STORE, WRITER
from gateway.station import routes
from gateway.station.service import Station, Written
from gateway.store.base import StoreUnavailable
from gateway.store.records import WriteBatch

log = logging.getLogger(__name__)


def write(app: web.Application, batch: WriteBatch, node: str | None) -> Written:
    """Store an edge's batch and what the station derives from it (on the store writer thread)."""
    return app[STATION].write(app[STORE], batch, node)


async def _tick_forever(app: web.Application, station: Station) -> None:
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(station.config.tick_s)
        try:
            result = await loop.run_in_executor(app[WRITER], station.tick, app[STORE])
        except StoreUnavailable as exc:
            log.warning("station timer skipped: %s", exc)
            continue
        if result is not None and result.alerts and app[HUB].clients:
            app[HUB].publish([alert_message(a) for a in result.alerts])


def lifetime(config: GatewayConfig) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context: open the station (after the store and the audit log), carry its open alarms over, run
    its timer."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        station = await loop.run_in_executor(None, Station, config, app[AUDIT])
        app[STATION] = station
        try:
            await loop.run_in_executor(app[WRITER], station.restore, app[STORE])
        except StoreUnavailable as exc:
            log.warning("station: open alarms not carried over (%s)", exc)
        timer = asyncio.ensure_future(_tick_forever(app, station))
        yield
        timer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await timer
        await loop.run_in_executor(app[WRITER], station.close)  # after every pending write

    return context


def add_routes(app: web.Application) -> None:
    routes.add_routes(app)
