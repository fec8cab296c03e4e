"""Running the gateway as a process: the API, the dashboard and the store until SIGTERM/SIGINT. The
command line (``iomt gateway``) lives in the application (``iomt_app.commands.gateway``), which loads
the config and calls :func:`serve`."""

from __future__ import annotations

import asyncio
import signal

from gateway.config import GatewayConfig


def serve(config: GatewayConfig) -> None:
    """Run the gateway described by ``config`` until SIGTERM or SIGINT, then shut it down cleanly."""
    from gateway.server import running_gateway

    async def until_signalled() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        async with running_gateway(config):
            await stop.wait()

    asyncio.run(until_signalled())
