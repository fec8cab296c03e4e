"""The image store's part of the gateway application: opened and closed with the app, hooked into the
uplink, its routes registered (:mod:`gateway.imaging.routes`)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from aiohttp import web

from gateway.config import GatewayConfig
from gateway.imaging.ingest import ImagingIngest, PreparedImages
from gateway.imaging.keys import RegistryKeys
from gateway.imaging.store import ImageStore, ImageWriteResult
from gateway.registry.config import open_registry
from gateway.registry.service import DeviceRegistry
from gateway.store.records import WriteBatch
from iomt.wire.uplink import UplinkRecord

log = logging.getLogger(__name__)


@dataclass
class Imaging:
    """What the imaging handlers and the uplink share: the store, the ingest, the registry (device key releases
    go to the gateway's audit log through :func:`gateway.auth.audit`)."""

    store: ImageStore
    ingest: ImagingIngest
    registry: DeviceRegistry | None
    keys: RegistryKeys | None

    def close(self) -> None:
        self.store.close()


IMAGING = web.AppKey("imaging", Imaging)


def open_imaging(config: GatewayConfig) -> Imaging:
    imaging = config.imaging
    store = ImageStore(imaging.directory(config.db_path), imaging.key_file(config.db_path))
    registry = open_registry(config.registry) if config.registry is not None else None
    keys = RegistryKeys(registry, imaging.key_cache_s) if registry is not None else None
    if registry is None:
        log.warning("no device registry configured (gateway.registry): encrypted images cannot be opened and are "
                    "refused")
    ingest = ImagingIngest(store, keys, require_encryption=imaging.require_encryption,
                           max_image_bytes=imaging.max_image_bytes)
    return Imaging(store, ingest, registry, keys)


def install(app: web.Application, config: GatewayConfig) -> None:
    """Open the image store with the app and register its routes."""
    from gateway.imaging.routes import add_routes

    async def resources(app: web.Application) -> AsyncIterator[None]:
        app[IMAGING] = await asyncio.get_running_loop().run_in_executor(None, open_imaging, config)
        pruner = asyncio.ensure_future(_prune_forever(app[IMAGING].store, config))
        yield
        pruner.cancel()
        await asyncio.gather(pruner, return_exceptions=True)
        app[IMAGING].close()

    app.cleanup_ctx.append(resources)
    add_routes(app)


async def _prune_forever(store: ImageStore, config: GatewayConfig) -> None:
    """Images (and their masks) are kept as long as events (their findings): ``retention.events_days``."""
    days = config.retention.events_days
    if days is None:
        return
    loop = asyncio.get_running_loop()
    while True:
        cutoff = time.time_ns() // 1000 - round(days * 86_400e6)
        removed = await loop.run_in_executor(None, store.prune, cutoff)
        if removed:
            log.info("retention removed %d images", removed)
        await asyncio.sleep(config.retention.prune_interval_s)


def prepare_and_commit(imaging: Imaging, records: Sequence[UplinkRecord], batch: WriteBatch, node: str
                       ) -> tuple[WriteBatch, PreparedImages, ImageWriteResult]:
    """Open the batch's images and lesion events and commit them to the image store (runs on the writer
    thread, before the time-series write, so the edge is acknowledged only once both are committed)."""
    batch, prepared = imaging.ingest.prepare(records, batch, node)
    return batch, prepared, imaging.ingest.commit(prepared)
