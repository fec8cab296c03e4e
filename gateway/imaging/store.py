"""The image store: encrypted image and mask files on the filesystem, indexed in SQLite.

It sits beside whichever time-series store the gateway uses (SQLite or InfluxDB: images never go into
InfluxDB, whose points are not made for megabytes of pixels). Layout under ``store_dir``::

    index.sqlite                         tables images (one row per image) and layers (one per mask layer)
    <device>/<image_id>.image            the imaging object (iomt.wire.chunks: header with spacing, pixels)
    <device>/<image_id>.<layer>.mask     the layer's run lengths (JSON)

Every file is encrypted under the gateway's storage key (:mod:`gateway.imaging.atrest`); the index holds
what the listing shows (times, geometry, areas, the finding), never pixels or masks. Writes are
idempotent on the image id (a redelivered image is a duplicate, stored once) and on (image, layer).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gateway.imaging import atrest
from gateway.imaging.records import Finding, ImageView, LayerView, MaskView
from gateway.sqlite_tx import immediate
from iomt.wire.chunks import Image, decode_image, encode_image
from iomt.wire.masks import decode_rle

SCHEMA = """
CREATE TABLE IF NOT EXISTS images (
    image_id TEXT PRIMARY KEY,
    device TEXT NOT NULL,
    patient TEXT,
    seq INTEGER NOT NULL,
    t_us INTEGER NOT NULL,
    received_us INTEGER NOT NULL,
    modality TEXT,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    spacing_row REAL,
    spacing_col REAL,
    sealed INTEGER NOT NULL,
    device_key_id INTEGER,
    node TEXT,
    storage_key_id INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS images_patient ON images (patient, t_us);
CREATE INDEX IF NOT EXISTS images_device ON images (device, t_us);
CREATE TABLE IF NOT EXISTS layers (
    image_id TEXT NOT NULL,
    layer TEXT NOT NULL,
    device TEXT NOT NULL,
    source TEXT NOT NULL,
    height INTEGER NOT NULL,
    width INTEGER NOT NULL,
    area_px INTEGER NOT NULL,
    area_mm2 REAL,
    model TEXT,
    model_version TEXT,
    label TEXT,
    confidence REAL,
    lesions INTEGER,
    event_id TEXT,
    node TEXT,
    received_us INTEGER NOT NULL,
    storage_key_id INTEGER NOT NULL,
    PRIMARY KEY (image_id, layer)
);
"""


@dataclass(frozen=True, slots=True)
class NewImage:
    """An image to store (already authenticated and validated)."""

    image_id: str
    device: str
    image: Image
    patient: str | None
    modality: str | None
    sealed: bool
    device_key_id: int | None
    node: str | None


@dataclass(frozen=True, slots=True)
class NewLayer:
    """A mask layer to store; ``finding`` for the model's (predicted) layer."""

    image_id: str
    device: str
    layer: str
    source: str
    shape: tuple[int, int]
    runs: Sequence[int]
    area_px: int
    area_mm2: float | None
    finding: Finding | None = None


@dataclass(frozen=True, slots=True)
class ImageWriteResult:
    stored: int
    duplicates: int


class ImageNotFound(LookupError):
    pass


class ImageStore:
    """See the module docstring. Thread-safe; one writer at a time (the gateway's writer thread)."""

    def __init__(self, directory: Path, key_file: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        os.chmod(directory, 0o700)
        self._key = atrest.load_or_create_key(key_file)
        self.key_id = 1
        index = directory / "index.sqlite"
        index.touch(mode=0o600)
        os.chmod(index, 0o600)  # patients, times and findings: the owner's only
        self._db = sqlite3.connect(index, isolation_level=None, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        return immediate(self._db, self._lock)

    # -- files -----------------------------------------------------------------------------------
    def _path(self, device: str, image_id: str, layer: str | None) -> Path:
        name = f"{image_id}.image" if layer is None else f"{image_id}.{layer}.mask"
        return self.directory / device / name

    def _write_file(self, path: Path, data: bytes, image_id: str, layer: str) -> None:
        path.parent.mkdir(mode=0o700, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, atrest.seal(self._key, data, image_id, layer, self.key_id))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)

    def _read_file(self, path: Path, image_id: str, layer: str) -> bytes:
        try:
            blob = path.read_bytes()
        except FileNotFoundError:
            raise ImageNotFound(f"the file of {image_id}/{layer} is missing") from None
        return atrest.open_sealed(self._key, blob, image_id, layer)

    # -- writes ----------------------------------------------------------------------------------
    def write(self, images: Sequence[NewImage], layers: Sequence[NewLayer]) -> ImageWriteResult:
        """Store new images and layers (files first, then the index in one transaction); an image already
        held is a duplicate. A layer replaces the image's layer of the same name (a newer model's)."""
        now = time.time_ns() // 1000
        with self._lock:
            held = {row[0] for row in self._db.execute(
                f"SELECT image_id FROM images WHERE image_id IN ({','.join('?' * len(images))})",
                [i.image_id for i in images])} if images else set()
        new = [i for i in images if i.image_id not in held]
        new = list({i.image_id: i for i in new}.values())  # the same image twice in one batch: once
        for item in new:
            self._write_file(self._path(item.device, item.image_id, None), encode_image(item.image), item.image_id,
                             "image")
        for layer in layers:
            self._write_file(self._path(layer.device, layer.image_id, layer.layer),
                             json.dumps(list(layer.runs)).encode(), layer.image_id, layer.layer)
        with self._tx() as db:
            for item in new:
                spacing = item.image.spacing_mm
                height, width = item.image.pixels.shape
                db.execute(
                    "INSERT OR IGNORE INTO images VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (item.image_id, item.device, item.patient, item.image.seq, item.image.t_us, now, item.modality,
                     width, height, spacing[0] if spacing else None, spacing[1] if spacing else None,
                     int(item.sealed), item.device_key_id, item.node, self.key_id))
            for layer in layers:
                f = layer.finding
                db.execute(
                    "INSERT OR REPLACE INTO layers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (layer.image_id, layer.layer, layer.device, layer.source, layer.shape[0], layer.shape[1],
                     layer.area_px, layer.area_mm2, f.model if f else None, f.model_version if f else None,
                     f.label if f else None, f.confidence if f else None, f.lesions if f else None,
                     f.event_id if f else None, f.node if f else None, now, self.key_id))
        return ImageWriteResult(stored=len(new), duplicates=len(images) - len(new))

    def prune(self, before_us: int) -> int:
        """Delete images acquired before ``before_us`` with their layers and files (and layers whose image
        never came, received before then); how many images."""
        with self._tx() as db:
            old = db.execute("SELECT image_id, device FROM images WHERE t_us < ?", (before_us,)).fetchall()
            layers = db.execute(
                "SELECT image_id, device, layer FROM layers WHERE image_id IN (SELECT image_id FROM images WHERE "
                "t_us < ?) OR (received_us < ? AND image_id NOT IN (SELECT image_id FROM images))",
                (before_us, before_us)).fetchall()
            db.execute("DELETE FROM layers WHERE image_id IN (SELECT image_id FROM images WHERE t_us < ?) OR "
                       "(received_us < ? AND image_id NOT IN (SELECT image_id FROM images))", (before_us, before_us))
            db.execute("DELETE FROM images WHERE t_us < ?", (before_us,))
        for image_id, device in old:
            self._path(device, image_id, None).unlink(missing_ok=True)
        for image_id, device, layer in layers:
            self._path(device, image_id, layer).unlink(missing_ok=True)
        return len(old)

    # -- reads -----------------------------------------------------------------------------------
    def images(self, patient: str, start_us: int | None = None, end_us: int | None = None,
               limit: int = 100) -> list[ImageView]:
        """Images of ``patient`` (the patient they name, or the imaging device's own id), newest first."""
        where = ["(patient = ? OR device = ?)"]
        args: list[object] = [patient, patient]
        if start_us is not None:
            where.append("t_us >= ?")
            args.append(start_us)
        if end_us is not None:
            where.append("t_us <= ?")
            args.append(end_us)
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_IMAGE_COLUMNS} FROM images WHERE {' AND '.join(where)} ORDER BY t_us DESC, image_id "
                "LIMIT ?", [*args, limit]).fetchall()
            layers = self._layers([r[0] for r in rows])
        return [_image_view(r, layers.get(r[0], [])) for r in rows]

    def image(self, image_id: str) -> ImageView:
        with self._lock:
            row = self._db.execute(f"SELECT {_IMAGE_COLUMNS} FROM images WHERE image_id = ?", (image_id,)).fetchone()
            if row is None:
                raise ImageNotFound(f"no image {image_id!r}")
            layers = self._layers([image_id])
        return _image_view(row, layers.get(image_id, []))

    def pixels(self, image_id: str) -> Image:
        """The decrypted image (pixels, spacing)."""
        view = self.image(image_id)
        return decode_image(self._read_file(self._path(view.device, image_id, None), image_id, "image"))

    def mask(self, image_id: str, layer: str) -> tuple[MaskView, np.ndarray]:
        """A layer's run lengths and its boolean mask."""
        with self._lock:
            row = self._db.execute(
                "SELECT l.device, l.source, l.height, l.width, l.area_px, l.area_mm2, l.model_version, "
                "i.spacing_row, i.spacing_col FROM layers l LEFT JOIN images i ON i.image_id = l.image_id "
                "WHERE l.image_id = ? AND l.layer = ?", (image_id, layer)).fetchone()
        if row is None:
            raise ImageNotFound(f"image {image_id!r} has no {layer!r} layer")
        device, source, height, width, area_px, area_mm2, version, row_mm, col_mm = row
        runs = tuple(int(v) for v in json.loads(self._read_file(self._path(device, image_id, layer), image_id, layer)))
        spacing = (row_mm, col_mm) if row_mm is not None else None
        view = MaskView(image_id, layer, source, (height, width), spacing, area_px, area_mm2, version, runs)
        return view, decode_rle(runs, (height, width))

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM images").fetchone()[0])

    def _layers(self, ids: list[str]) -> dict[str, list[Any]]:
        if not ids:
            return {}
        out: dict[str, list[Any]] = {}
        for row in self._db.execute(
                f"SELECT {_LAYER_COLUMNS} FROM layers WHERE image_id IN ({','.join('?' * len(ids))}) ORDER BY layer",
                ids):
            out.setdefault(str(row[0]), []).append(tuple(row))
        return out


_IMAGE_COLUMNS = ("image_id, device, patient, seq, t_us, received_us, modality, width, height, spacing_row, "
                  "spacing_col, sealed, device_key_id, node")
_LAYER_COLUMNS = ("image_id, layer, source, area_px, area_mm2, model, model_version, label, confidence, lesions, "
                  "event_id, node")


def _image_view(row: Any, layers: list[Any]) -> ImageView:
    (image_id, device, patient, seq, t_us, received_us, modality, width, height, row_mm, col_mm, sealed,
     key_id, node) = row
    finding = None
    views = []
    for (_, layer, source, area_px, area_mm2, model, version, label, confidence, lesions, event_id,
         layer_node) in layers:
        views.append(LayerView(layer, source, area_px, area_mm2, version))
        if label is not None and model is not None:
            finding = Finding(label, confidence, area_px, area_mm2, lesions or 0, model, version, event_id, layer_node)
    spacing = (float(row_mm), float(col_mm)) if row_mm is not None and col_mm is not None else None
    return ImageView(image_id, device, patient, seq, t_us, received_us, modality, width, height, spacing,
                     bool(sealed), key_id, node, tuple(views), finding)
