"""Images from the uplink into the image store: open each sealed image, take the masks out of the edge's
lesion events, refuse (dead-letter) what does not authenticate.

* An ``IMAGE`` record is the envelope its device sealed (:mod:`iomt.wire.envelope`), forwarded by the
  edge still encrypted. It is authenticated and decrypted with the device's registry key; its pixels,
  spacing, patient and modality are stored, and its annotation layers (the simulator's ground truth)
  become mask layers. A record that is not an envelope, is not encrypted (unless legacy devices are
  allowed), fails its tag, names a key the registry does not have, or holds a malformed image is
  dead-lettered with the field and the reason — only the envelope's header is kept in the dead letter,
  never its pixels — and counted; nothing of it is stored.
* An edge's lesion event (model :data:`IMAGING_MODEL`, ``detail.image_seq``, ``detail.mask_rle``) gives
  the image's ``predicted`` layer and its finding (label, confidence, areas, model version). The event
  itself is stored like any event, but without the mask: ``detail.mask_rle`` is replaced by a reference
  to the layer, so masks rest encrypted in the image store only.

The image and the event about it may arrive in either order (or in different batches): both name the
image by (device, sequence, acquisition time) — :func:`gateway.imaging.records.image_id`.
"""

from __future__ import annotations

import base64
import dataclasses
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gateway.imaging.records import Finding, Layer, image_id
from gateway.imaging.store import ImageStore, ImageWriteResult, NewImage, NewLayer
from gateway.store.records import WriteBatch
from iomt.wire import envelope as env
from iomt.wire.deadletter import DeadLetter
from iomt.wire.errors import DecodeError
from iomt.wire.events import Event, EventKind
from iomt.wire.masks import decode_rle
from iomt.wire.sealed_image import open_image
from iomt.wire.uplink import RecordKind, UplinkRecord

log = logging.getLogger(__name__)

#: The model name of the edge's lesion events (the edge imaging stage's, see the README's "Lesion events").
IMAGING_MODEL = "imaging"
UPLINK_TOPIC = "uplink"
#: Bytes of a refused imaging payload kept in its dead letter: the envelope's header (no plaintext).
DEADLETTER_HEAD = 96


@dataclass
class PreparedImages:
    """What one uplink batch brings to the image store, and what it refused (field -> count)."""

    images: list[NewImage] = field(default_factory=list)
    layers: list[NewLayer] = field(default_factory=list)
    refused: dict[str, int] = field(default_factory=dict)
    bad_masks: int = 0


def split_records(records: Sequence[UplinkRecord]) -> tuple[list[UplinkRecord], list[UplinkRecord]]:
    """(the records for the time-series store, the imaging records)."""
    images = [r for r in records if r.kind is RecordKind.IMAGE]
    if not images:
        return list(records), []
    return [r for r in records if r.kind is not RecordKind.IMAGE], images


def image_deadletter(field_name: str, reason: str, node: str, payload: bytes) -> DeadLetter:
    """A dead letter for a refused imaging payload that keeps only its header."""
    head = payload[:DEADLETTER_HEAD] if env.is_envelope(payload) else payload[:28]
    return DeadLetter(UPLINK_TOPIC, field_name, reason, node, time.time_ns() // 1000, len(payload),
                      base64.b64encode(head).decode())


class ImagingIngest:
    """Opens imaging records and lesion events of uplink batches and writes them to the image store."""

    def __init__(self, store: ImageStore, keys: env.KeyLookup | None, *, require_encryption: bool = True,
                 max_image_bytes: int = 32 * 1024 * 1024) -> None:
        self.store = store
        self.keys: env.KeyLookup = keys if keys is not None else (lambda _device, _key_id: None)
        self.require_encryption = require_encryption
        self.max_image_bytes = max_image_bytes

    def prepare(self, records: Sequence[UplinkRecord], batch: WriteBatch, node: str
                ) -> tuple[WriteBatch, PreparedImages]:
        """Open ``records`` (imaging) and adopt the lesion events of ``batch``: the batch to write to the
        time-series store (refusals added to its dead letters, masks taken out of its events) and what
        goes to the image store."""
        prepared = PreparedImages()
        dead: list[DeadLetter] = []
        for record in records:
            try:
                prepared.images.append(self._open(record.payload, node, prepared))
            except DecodeError as exc:
                prepared.refused[exc.field] = prepared.refused.get(exc.field, 0) + 1
                dead.append(image_deadletter(exc.field, exc.reason, node, record.payload))
                log.debug("refused an imaging record from %s: %s", node, exc)
        events = [self._adopt(event, node, prepared) for event in batch.events]
        if dead or prepared.layers:
            batch = WriteBatch(batch.frames, batch.readings, events, [*batch.deadletters, *dead])
        return batch, prepared

    def commit(self, prepared: PreparedImages) -> ImageWriteResult:
        if not prepared.images and not prepared.layers:
            return ImageWriteResult(0, 0)
        return self.store.write(prepared.images, prepared.layers)

    def _open(self, payload: bytes, node: str, prepared: PreparedImages) -> NewImage:
        if len(payload) > self.max_image_bytes:
            raise DecodeError("size", f"{len(payload)} bytes; this gateway takes images up to {self.max_image_bytes}")
        if not env.is_envelope(payload):
            if payload[:2] == b"IG":
                raise DecodeError("encryption", "a plain imaging object; images travel sealed in an envelope "
                                                "(iomt.wire.envelope)")
            raise DecodeError("magic", f"not an imaging envelope ({bytes(payload[:2])!r})")
        opened = open_image(payload, self.keys, allow_unencrypted=not self.require_encryption)
        envelope, sealed = opened.envelope, opened.sealed
        image = sealed.image
        new_id = image_id(envelope.device, image.seq, image.t_us)
        for annotation in sealed.annotations:
            mask = annotation.mask()
            area = int(mask.sum())
            prepared.layers.append(NewLayer(new_id, envelope.device, annotation.layer, annotation.source,
                                            annotation.shape, annotation.runs, area, _mm2(area, image.spacing_mm)))
        return NewImage(new_id, envelope.device, image, sealed.patient, sealed.modality,
                        envelope.algorithm.encrypted, envelope.key_id or None, node)

    def _adopt(self, event: Event, node: str, prepared: PreparedImages) -> Event:
        """The event as stored; its mask, when it is a lesion event, becomes a predicted layer."""
        detail = event.detail
        if event.model != IMAGING_MODEL or event.kind is not EventKind.INFERENCE or "image_seq" not in detail:
            return event
        try:
            layer = _predicted_layer(event, node)
        except DecodeError as exc:
            prepared.bad_masks += 1
            log.warning("lesion event %s of %s has an unusable mask (%s); stored without a layer", event.event_id,
                        event.device, exc)
            return event
        prepared.layers.append(layer)
        kept = {k: v for k, v in detail.items() if k != "mask_rle"}
        kept["mask"] = {"image_id": layer.image_id, "layer": str(Layer.PREDICTED), "stored": "image store"}
        return dataclasses.replace(event, detail=kept)


def _mm2(area_px: int, spacing: tuple[float, float] | None) -> float | None:
    return None if spacing is None else round(area_px * spacing[0] * spacing[1], 3)


def _number(detail: Mapping[str, Any], key: str) -> float | None:
    value = detail.get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _predicted_layer(event: Event, node: str) -> NewLayer:
    detail = event.detail
    seq = detail.get("image_seq")
    if type(seq) is not int or not 0 <= seq <= 0xFFFFFFFF:
        raise DecodeError("image_seq", f"must be the image's sequence number, got {seq!r}")
    shape = detail.get("shape")
    if not isinstance(shape, list) or len(shape) != 2 or not all(type(v) is int and v > 0 for v in shape):
        raise DecodeError("shape", f"must be [height, width], got {shape!r}")
    height, width = shape
    runs = detail.get("mask_rle")
    if runs is None:  # the edge sends none for a mask of too many runs: the finding stays, the layer is empty
        runs = [height * width]
    if not isinstance(runs, list) or not all(type(r) is int and 0 <= r <= height * width for r in runs):
        raise DecodeError("mask_rle", "must be a list of run lengths")
    mask = decode_rle(runs, (height, width))
    area = int(np.count_nonzero(mask))
    lesions = detail.get("lesions")
    area_mm2 = _number(detail, "area_mm2")
    spacing = detail.get("spacing_mm")
    if area_mm2 is None and isinstance(spacing, list) and len(spacing) == 2 and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in spacing):
        area_mm2 = _mm2(area, (float(spacing[0]), float(spacing[1])))
    source_node = event.node or node
    finding = Finding(event.label, event.score, area, area_mm2, len(lesions) if isinstance(lesions, list) else 0,
                      event.model, event.model_version, event.event_id, source_node)
    return NewLayer(image_id(event.device, seq, event.window_start_us), event.device, str(Layer.PREDICTED),
                    f"edge:{source_node}", (height, width), tuple(runs), area, area_mm2, finding)
