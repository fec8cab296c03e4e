"""``iomt gateway``: serve the API, the dashboard and the store."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from iomt_app.commands import add_common

log = logging.getLogger(__name__)
#: Where the first start leaves the generated admin password (beside the state file, mode 0600).
INITIAL_PASSWORD_FILE = "initial-admin-password"


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("gateway", help="run the gateway (API, dashboard, store)")
    add_common(p)
    p.add_argument("--host", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="HTTP port (default 8080)")
    p.add_argument("--db", type=Path, help="SQLite store file")
    p.add_argument("--backend", choices=("sqlite", "influxdb"), help="time-series store (default sqlite)")
    p.add_argument("--influx-url", metavar="URL", help="InfluxDB HTTP address for --backend influxdb")
    p.add_argument("--tls-cert", type=Path, metavar="FILE", help="serve HTTPS with this PEM certificate")
    p.add_argument("--tls-key", type=Path, metavar="FILE", help="the PEM private key of --tls-cert")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from gateway import service
    from gateway.config import GatewayConfig
    from iomt.config import load_config

    config = load_config(
        GatewayConfig, "gateway", path=args.config, env=env,
        overrides={"host": args.host, "port": args.port, "db_path": args.db, "mqtt.url": args.broker,
                   "backend": args.backend, "influx.url": args.influx_url, "tls.cert_file": args.tls_cert,
                   "tls.key_file": args.tls_key},
    )
    first_admin(config.state_file())
    service.serve(config)
    return 0


def first_admin(state: Path) -> Path | None:
    """On the first start (no user yet) create ``admin`` and leave its password in a file readable by this
    OS user only, beside the state file — never in the log. Returns that file when it was written."""
    from gateway.auth import ensure_admin
    from iomt_app.commands.edge_tokens import write_private

    password = ensure_admin(state)
    if password is None:
        return None
    path = state.parent / INITIAL_PASSWORD_FILE
    write_private(path, password + "\n")
    log.warning("first start: created the user 'admin'; its password is in %s (sign in, set your own with "
                "`iomt users passwd admin`, then delete the file)", path)
    return path
