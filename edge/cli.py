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


def node_stats(node: Any, wall_s: float) -> dict[str, Any]:
    """Counters, latency percentiles and resource use of a node that ran for ``wall_s`` seconds."""
    import resource
    from dataclasses import asdict

    import numpy as np

    usage = resource.getrusage(resource.RUSAGE_SELF)

    def percentiles(values: list[float]) -> dict[str, Any]:
        arr = np.asarray(values, dtype=np.float64)
        if not arr.size:
            return {"count": 0, "p50": None, "p90": None, "p99": None, "p99.9": None, "max": None}
        p50, p90, p99, p999 = (float(v) for v in np.percentile(arr, [50, 90, 99, 99.9]))
        return {"count": int(arr.size), "p50": p50, "p90": p90, "p99": p99, "p99.9": p999, "max": float(arr.max())}

    every = [v for values in node.latencies_ms.values() for v in values]
    return {
        "wall_s": wall_s,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": usage.ru_maxrss / 1024.0,
        "counters": asdict(node.processor.counters),
        "sequence": node.processor.sequences.totals(),
        "models": {name: asdict(s) for name, s in node.processor.engine.stats.items()},
        "model_versions": node.processor.registry.versions(),
        "latency_ms": percentiles(every),
        "latency_ms_by_model": {model: percentiles(values) for model, values in node.latencies_ms.items()},
        "outbox": {"pending": node.outbox.pending, "shed": node.outbox.shed_total},
        "uplink": asdict(node.uplink.stats),
        "gc": node.gc.summary(),
        "latency_ms_before_cycle": percentiles(list(node.waits_ms)),
        "cycles": {"ms": percentiles([c[0] for c in node.cycles]),
                   "messages": percentiles([float(c[1]) for c in node.cycles])},
    }
