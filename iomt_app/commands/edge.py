"""``iomt edge``: run an edge node until SIGTERM/SIGINT, then drain and stop."""

from __future__ import annotations

import argparse
import signal
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from iomt_app.commands import add_common


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("edge", help="run an edge node (ingest, inference, uplink)")
    add_common(p)
    p.add_argument("--gateway", metavar="URL", help="gateway base URL, e.g. http://127.0.0.1:8080")
    p.add_argument("--node-id", help="name of this edge node")
    p.add_argument("--site", help="site whose streams to process")
    p.add_argument("--outbox", type=Path, help="outbox SQLite file")
    p.add_argument("--models-dir", type=Path, help="directory of released models (default: the package's models/)")
    p.add_argument("--metrics-port", type=int, help="serve Prometheus metrics on this port")
    p.add_argument("--stats", type=Path, help="on exit, write counters, latency and resource use as JSON here")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from edge import service
    from edge.config import EdgeConfig
    from iomt.config import load_config

    config = load_config(
        EdgeConfig, "edge", path=args.config, env=env,
        overrides={
            "mqtt.url": args.broker, "gateway_url": args.gateway, "node_id": args.node_id,
            "site": args.site, "outbox_path": args.outbox, "models_dir": args.models_dir,
            "metrics_port": args.metrics_port,
        },
    )
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    service.run(config, stop, args.stats)
    return 0
