"""``iomt gateway``: serve the API, the dashboard and the store."""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    from iomt.cli import add_common

    p: argparse.ArgumentParser = sub.add_parser("gateway", help="run the gateway (API, dashboard, store)")
    add_common(p)
    p.add_argument("--host", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="HTTP port (default 8080)")
    p.add_argument("--db", type=Path, help="SQLite store file")
    p.add_argument("--backend", choices=("sqlite", "influxdb"), help="time-series store (default sqlite)")
    p.add_argument("--influx-url", metavar="URL", help="InfluxDB HTTP address for --backend influxdb")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gateway.config import GatewayConfig
    from gateway.server import running_gateway
    from iomt.cli import environment
    from iomt.config import load_config

    config = load_config(
        GatewayConfig, "gateway", path=args.config, env=environment(),
        overrides={"host": args.host, "port": args.port, "db_path": args.db, "mqtt.url": args.broker,
                   "backend": args.backend, "influx.url": args.influx_url},
    )

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        async with running_gateway(config):
            await stop.wait()

    asyncio.run(serve())
    return 0
