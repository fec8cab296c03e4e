"""Running an edge node as a process: until SIGTERM/SIGINT, then drain and stop. The command line
(``iomt edge``) lives in the application (``iomt_app.commands.edge``), which loads the config and calls
:func:`run`."""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from pathlib import Path
from typing import Any

from edge.config import EdgeConfig

log = logging.getLogger(__name__)


def run(config: EdgeConfig, stats_path: Path | None = None) -> None:
    """Run an edge node until SIGTERM/SIGINT, then stop it; with ``stats_path``, write its counters,
    latency and resource use there as JSON."""
    from edge.node import EdgeNode

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
    if stats_path is not None:
        stats_path.write_text(json.dumps(node_stats(node, time.monotonic() - started), indent=2))


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
