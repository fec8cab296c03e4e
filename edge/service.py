"""Run an edge node until told to stop: the entry function a command line (or a demo) calls.

Nothing here knows argparse or the process environment: the caller loads the config, decides what
stops the node (signals, a timer) and where its stats go.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path

from edge.config import EdgeConfig
from edge.node import EdgeNode
from edge.processor import EdgeCounters
from edge.stats import node_stats

log = logging.getLogger(__name__)


def run(config: EdgeConfig, stop: threading.Event, stats_path: Path | None = None,
        drain_s: float = 10.0) -> EdgeCounters:
    """Start a node, run it until ``stop`` is set, then drain (up to ``drain_s``) and stop it; write its
    :func:`~edge.stats.node_stats` snapshot as JSON to ``stats_path`` when given. Returns its counters."""
    started = time.monotonic()
    node = EdgeNode(config).start()
    stop.wait()
    log.info("stopping edge node %s", config.node_id)
    node.stop(drain_s)
    c = node.processor.counters
    log.info("edge processed %d messages, %d frames, %d events, %d rejected", c.messages, c.frames, c.events,
             c.dead_letter)
    if stats_path is not None:
        stats_path.write_text(json.dumps(node_stats(node, time.monotonic() - started), indent=2))
    return c
