"""The gateway's aiohttp application: uplink receiver, summary API and the live page."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from aiohttp import web

from gateway.config import GatewayConfig
from gateway.ingest import batch_from_records
from gateway.store.base import Store
from gateway.store.sqlite import SqliteStore
from iomt.wire.errors import DecodeError
from iomt.wire.uplink import decode_batch

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
STORE = web.AppKey("store", Store)
WRITER = web.AppKey("writer", ThreadPoolExecutor)
CONFIG = web.AppKey("config", GatewayConfig)


def json_error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def uplink(request: web.Request) -> web.Response:
    """Store a batch from an edge node; answer 200 only after the store committed it."""
    body = await request.read()
    try:
        records = decode_batch(body)
    except DecodeError as exc:
        return json_error(400, f"malformed uplink batch: {exc}")
    node = request.headers.get("X-Iomt-Node", "unknown")
    loop = asyncio.get_running_loop()
    batch = await loop.run_in_executor(request.app[WRITER], batch_from_records, records, node)
    result = await loop.run_in_executor(request.app[WRITER], request.app[STORE].write, batch)
    return web.json_response(
        {"stored": result.stored, "duplicates": result.duplicates, "rejected": len(batch.deadletters)}
    )


def _summary(store: Store) -> dict[str, Any]:
    patients: dict[str, dict[str, Any]] = {}
    for s in store.stream_stats():
        entry = patients.setdefault(s.device, {"device": s.device, "heart_rate": None, "streams": {}})
        entry["streams"][s.stream] = {"frames": s.frames, "missing": s.missing, "last_seq": s.last_seq}
    for device, event in store.latest_events("heart_rate").items():
        entry = patients.setdefault(device, {"device": device, "heart_rate": None, "streams": {}})
        entry["heart_rate"] = event.value
        entry["heart_rate_t_us"] = event.t_us
        entry["heart_rate_state"] = event.label
    return {
        "patients": sorted(patients.values(), key=lambda p: p["device"]),
        "totals": {t: store.count(t) for t in ("frames", "readings", "events", "deadletters")},
        "edges": store.edges(),
    }


async def summary(request: web.Request) -> web.Response:
    loop = asyncio.get_running_loop()
    return web.json_response(await loop.run_in_executor(None, _summary, request.app[STORE]))


async def health(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def index(_request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html")


def create_app(config: GatewayConfig, store: Store | None = None) -> web.Application:
    """Build the application; the store is opened and closed with it unless one is passed in."""
    app = web.Application(client_max_size=config.max_uplink_bytes)
    app[CONFIG] = config

    async def resources(app: web.Application) -> AsyncIterator[None]:
        own = store is None
        app[STORE] = store if store is not None else SqliteStore(config.db_path)
        app[WRITER] = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-writer")
        yield
        app[WRITER].shutdown(wait=True)
        if own:
            app[STORE].close()

    app.cleanup_ctx.append(resources)
    app.router.add_post("/api/v1/uplink", uplink)
    app.router.add_get("/api/v1/summary", summary)
    app.router.add_get("/healthz", health)
    app.router.add_get("/", index)
    return app
