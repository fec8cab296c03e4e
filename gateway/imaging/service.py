"""The image store's part of the gateway application: opened and closed with the app, hooked into the
uplink, its routes registered (:mod:`gateway.imaging.routes`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from gateway.audit import AuditLog
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
    """What the imaging handlers and the uplink share: the store, the ingest, the registry, the audit log."""

    store: ImageStore
    ingest: ImagingIngest
    registry: DeviceRegistry | None
    keys: RegistryKeys | None
    audit: AuditLog

    def close(self) -> None:
        self.store.close()
        self.audit.close()


IMAGING = web.AppKey("imaging", Imaging)


def audit_file(config: GatewayConfig) -> Path:
    """The gateway's audit log (the same file the rest of the gateway appends to)."""
    return config.db_path.parent / "audit.sqlite"


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
    return Imaging(store, ingest, registry, keys, AuditLog(audit_file(config)))


def install(app: web.Application, config: GatewayConfig) -> None:
    """Open the image store with the app and register its routes."""
    from gateway.imaging.routes import add_routes

    async def resources(app: web.Application) -> AsyncIterator[None]:
        app[IMAGING] = await asyncio.get_running_loop().run_in_executor(None, open_imaging, config)
        yield
        app[IMAGING].close()

    app.cleanup_ctx.append(resources)
    add_routes(app)


def prepare_and_commit(imaging: Imaging, records: Sequence[UplinkRecord], batch: WriteBatch, node: str
                       ) -> tuple[WriteBatch, PreparedImages, ImageWriteResult]:
    """Open the batch's images and lesion events and commit them to the image store (runs on the writer
    thread, before the time-series write, so the edge is acknowledged only once both are committed)."""
    batch, prepared = imaging.ingest.prepare(records, batch, node)
    return batch, prepared, imaging.ingest.commit(prepared)
