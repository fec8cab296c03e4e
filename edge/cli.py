"""``iomt edge``: run an edge node until SIGTERM/SIGINT, then drain and stop."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import threading
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    from iomt.cli import add_common

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


def run(args: argparse.Namespace) -> int:
    from edge.config import EdgeConfig
    from edge.node import EdgeNode
    from edge.stats import node_stats
    from iomt.cli import environment
    from iomt.config import load_config

    config = load_config(
        EdgeConfig, "edge", path=args.config, env=environment(),
        overrides={
            "mqtt.url": args.broker, "gateway_url": args.gateway, "node_id": args.node_id,
            "site": args.site, "outbox_path": args.outbox, "models_dir": args.models_dir,
            "metrics_port": args.metrics_port,
        },
    )
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    started = time.monotonic()
    node = EdgeNode(config).start()
    stop.wait()
    log.info("stopping edge node %s", config.node_id)
    node.stop()
    c = node.processor.counters
    log.info("edge processed %d messages, %d frames, %d events, %d rejected", c.messages, c.frames, c.events,
             c.dead_letter)
    if args.stats is not None:
        args.stats.write_text(json.dumps(node_stats(node, time.monotonic() - started), indent=2))
    return 0
