"""Helpers shared by integration tests: a running edge node and polling waits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from edge.config import EdgeConfig
from edge.node import EdgeNode
from iomt.config import MqttConfig

T0_US = 1_764_000_000_000_000


def enrol(gateway: object, node: str) -> str:
    """An uplink token for ``node`` at a running gateway (what `iomt edge-tokens issue` does)."""
    from gateway.auth.context import EDGE_AUTHORITY

    return gateway.app[EDGE_AUTHORITY].issue(node)  # type: ignore[attr-defined, no-any-return]


def edge_config(tmp_path: Path, mqtt: MqttConfig, gateway_url: str, site: str, **extra: object) -> EdgeConfig:
    return EdgeConfig(
        node_id=f"edge-{site}", site=site, mqtt=mqtt, gateway_url=gateway_url,
        outbox_path=tmp_path / f"outbox-{site}.sqlite", **extra,  # type: ignore[arg-type]
    )


async def start_edge(config: EdgeConfig) -> EdgeNode:
    return await asyncio.to_thread(lambda: EdgeNode(config).start())


async def wait_until(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll ``predicate`` (run in a thread) until true; fail with ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await asyncio.to_thread(predicate):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
