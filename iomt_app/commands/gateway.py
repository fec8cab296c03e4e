"""``iomt gateway``: serve the API, the dashboard and the store."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from iomt_app.commands import add_common


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("gateway", help="run the gateway (API, dashboard, store)")
    add_common(p)
    p.add_argument("--host", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="HTTP port (default 8080)")
    p.add_argument("--db", type=Path, help="SQLite store file")
    p.add_argument("--backend", choices=("sqlite", "influxdb"), help="time-series store (default sqlite)")
    p.add_argument("--influx-url", metavar="URL", help="InfluxDB HTTP address for --backend influxdb")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from gateway import service
    from gateway.config import GatewayConfig
    from iomt.config import load_config

    config = load_config(
        GatewayConfig, "gateway", path=args.config, env=env,
        overrides={"host": args.host, "port": args.port, "db_path": args.db, "mqtt.url": args.broker,
                   "backend": args.backend, "influx.url": args.influx_url},
    )
    service.serve(config)
    return 0
