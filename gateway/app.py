"""The gateway's aiohttp application: uplink receiver, REST API, live feed, metrics and the dashboard."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from aiohttp import web

from gateway import uplink_audit
from gateway.api import audit_routes, auth_routes, registry_routes
from gateway.api.openapi import OPENAPI_PATH, openapi_document
from gateway.api.params import BadRequest
from gateway.api.routes import add_routes
from gateway.auth import EdgeAuthority, Role, edge_node, edges_only, public, requires
from gateway.auth.context import AUDIT
from gateway.auth.install import install as install_auth
from gateway.auth.openapi import annotate_access
from gateway.config import GatewayConfig
from gateway.imaging.ingest import split_records
from gateway.imaging.service import IMAGING, prepare_and_commit
from gateway.imaging.service import install as install_imaging
from gateway.ingest import batch_from_records
from gateway.live import LiveHub, batch_messages
from gateway.metrics import Metrics
from gateway.state import CONFIG, HUB, METRICS, STORE, WRITER
from gateway.station import app as station_app
from gateway.station.live import station_messages
from gateway.store.base import Store, StoreUnavailable
from gateway.store.factory import open_store
from iomt.wire.errors import DecodeError
from iomt.wire.uplink import ACK_CONTENT_TYPE, UPLINK_PATH, UplinkAck, decode_batch, encode_ack

__all__ = ["CONFIG", "HUB", "METRICS", "STORE", "WRITER", "create_app"]

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MODEL_VERSIONS = web.AppKey("model_versions", uplink_audit.ModelVersions)
#: Headers of an HTTP error kept on its JSON answer (Retry-After on 429/503, WWW-Authenticate on 401).
KEPT_ERROR_HEADERS = ("Retry-After", "WWW-Authenticate", "Allow")


def json_error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message, "status": status}, status=status)


@web.middleware
async def errors_as_json(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error answer is JSON with a message; bad parameters are 400, never 500."""
    metrics = request.app[METRICS]
    route = request.match_info.route.resource.canonical if request.match_info.route.resource else "unmatched"
    try:
        response = await handler(request)
    except BadRequest as exc:
        response = json_error(400, str(exc))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = json_error(exc.status, exc.reason if exc.text is None or exc.text.startswith(str(exc.status))
                              else exc.text)
        response.headers.update({k: exc.headers[k] for k in KEPT_ERROR_HEADERS if k in exc.headers})
    except StoreUnavailable as exc:
        log.warning("store unavailable: %s", exc)  # the details (addresses) go to the log, not to clients
        response = json_error(503, "store unavailable, retry later")
        response.headers["Retry-After"] = "1"
    except Exception:
        log.exception("unexpected error serving %s %s", request.method, request.path)
        response = json_error(500, "internal error; the gateway logged the details")
    metrics.requests.labels(request.method, route, str(response.status)).inc()
    return response


@edges_only
async def uplink(request: web.Request) -> web.Response:
    """Store a batch from an edge node; answer 200 only after the store committed it.

    The node is the one the edge's credential names (the X-Iomt-Node header must agree or is refused).
    """
    metrics = request.app[METRICS]
    body = await request.read()
    try:
        records = decode_batch(body)
    except DecodeError as exc:
        metrics.uplink_batches.labels("malformed").inc()
        return json_error(400, f"malformed uplink batch: {exc}")
    node = edge_node(request)
    loop = asyncio.get_running_loop()
    writer = request.app[WRITER]
    records, image_records = split_records(records)
    batch = await loop.run_in_executor(writer, batch_from_records, records, node)
    # images first (idempotent): the edge is acknowledged only once both stores committed
    batch, prepared, images = await loop.run_in_executor(writer, prepare_and_commit, request.app[IMAGING],
                                                         image_records, batch, node)
    started = time.perf_counter()
    try:  # the edge's records, then what the station derives from them (NEWS2, its alarms), both committed
        written = await loop.run_in_executor(writer, station_app.write, request.app, batch, node)
        result = written.edge
    except StoreUnavailable:
        metrics.uplink_batches.labels("store_unavailable").inc()
        raise
    metrics.write_seconds.observe(time.perf_counter() - started)
    metrics.uplink_batches.labels("committed").inc()
    metrics.records.labels("stored").inc(result.stored)
    metrics.records.labels("duplicate").inc(result.duplicates)
    metrics.records.labels("rejected").inc(len(batch.deadletters))
    metrics.images.labels("stored").inc(images.stored)
    metrics.images.labels("duplicate").inc(images.duplicates)
    for field, count in prepared.refused.items():
        metrics.images.labels("refused").inc(count)
        metrics.image_refusals.labels(field).inc(count)
    metrics.refused_resolutions.inc(len(result.refused))
    changes = request.app[MODEL_VERSIONS].observe(batch.events)
    if changes or result.refused or any(a.resolved_by == f"edge:{node}" for a in result.alerts):
        await loop.run_in_executor(None, uplink_audit.record, request.app[AUDIT], node, result, changes)
    hub = request.app[HUB]
    if hub.clients:
        live = request.app[CONFIG].live
        messages = await loop.run_in_executor(None, batch_messages, batch, result, live.ecg_hz, live.motion_hz)
        hub.publish(messages + station_messages(written))
    ack = UplinkAck(stored=result.stored + images.stored, duplicates=result.duplicates + images.duplicates,
                    rejected=len(batch.deadletters))
    return web.Response(body=encode_ack(ack), content_type=ACK_CONTENT_TYPE)


@public
async def health(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@requires(Role.ADMIN, scrape=True)
async def metrics(request: web.Request) -> web.Response:
    body = await asyncio.get_running_loop().run_in_executor(None, request.app[METRICS].render)
    return web.Response(body=body, headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})


@public
async def openapi(request: web.Request) -> web.Response:
    return web.json_response(annotate_access(openapi_document(), request.app))


@requires(Role.VIEWER)
async def live(request: web.Request) -> web.StreamResponse:
    return await request.app[HUB].serve(request)


@requires(Role.VIEWER, page=True)
async def index(_request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


async def _prune_forever(store: Store, interval_s: float) -> None:
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(interval_s)
        try:
            removed = await loop.run_in_executor(None, store.prune, time.time_ns() // 1000)
        except StoreUnavailable as exc:
            log.warning("retention pass skipped: %s", exc)
            continue
        if removed:
            log.info("retention removed %d expired records", removed)


def create_app(
    config: GatewayConfig, store: Store | None = None, edges: EdgeAuthority | None = None
) -> web.Application:
    """Build the application; the store is opened and closed with it unless one is passed in. Edges
    authenticate against ``edges`` (default: the edge tokens in the state file)."""
    app = web.Application(client_max_size=config.max_uplink_bytes, middlewares=[errors_as_json])
    app[CONFIG] = config
    app[METRICS] = Metrics()
    app[HUB] = LiveHub(config.live.queue_messages, on_drop=app[METRICS].live_dropped.inc)
    app[METRICS].live_clients.set_function(lambda: len(app[HUB].clients))

    async def resources(app: web.Application) -> AsyncIterator[None]:
        own = store is None
        app[STORE] = store if store is not None else open_store(config)
        app[METRICS].watch_store(app[STORE])
        app[WRITER] = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-writer")
        app[MODEL_VERSIONS] = uplink_audit.ModelVersions()
        try:
            await asyncio.get_running_loop().run_in_executor(None, app[MODEL_VERSIONS].prime, app[STORE])
        except StoreUnavailable as exc:  # the audit then records the versions edges report as new ones
            log.warning("model versions not read from the store at start: %s", exc)
        pruner = asyncio.ensure_future(_prune_forever(app[STORE], config.retention.prune_interval_s))
        yield
        pruner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pruner
        app[WRITER].shutdown(wait=True)
        if own:
            app[STORE].close()

    async def close_live(app: web.Application) -> None:
        for client in list(app[HUB].clients):
            app[HUB].disconnect(client)

    app.cleanup_ctx.append(resources)
    install_auth(app, config, edges)
    app.cleanup_ctx.append(station_app.lifetime(config))  # after auth's: it writes to the same audit log
    app.on_shutdown.append(close_live)
    app.router.add_post(UPLINK_PATH, uplink)
    app.router.add_get("/api/v1/live", live)
    app.router.add_get(OPENAPI_PATH, openapi)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", health)
    app.router.add_get("/", index)
    app.router.add_static("/static", STATIC)
    add_routes(app)
    auth_routes.add_routes(app)
    audit_routes.add_routes(app)
    station_app.add_routes(app)
    registry_routes.add_routes(app)
    install_imaging(app, config)
    return app
