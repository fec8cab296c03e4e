"""Builders for the imaging tests: an enrolled registry, sealed images, lesion events like the edge's."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gateway.registry.config import RegistryConfig, open_registry
from gateway.registry.service import DeviceRegistry
from iomt.wire.chunks import Image
from iomt.wire.events import Event, EventKind, Priority, encode_event
from iomt.wire.masks import encode_rle
from iomt.wire.sealed_image import GROUND_TRUTH, MaskLayer, SealedImage, seal_image
from iomt.wire.uplink import RecordKind, UplinkRecord, encode_batch

SITE = "default"
DEVICE = "us-0001"
PATIENT = "patient-0003"
EDGE = "edge-1"
T0_US = 1_764_000_000_000_000
SPACING = (0.3125, 0.3125)


@dataclass
class Enrolled:
    registry: DeviceRegistry
    config: RegistryConfig
    keys: dict[str, tuple[int, bytes]]
    edge_token: str


def enrolled_registry(root: Path, devices: tuple[str, ...] = (DEVICE,), other_site: tuple[str, ...] = ()) -> Enrolled:
    config = RegistryConfig(path=root / "registry.sqlite", key_file=root / "registry.key")
    registry = open_registry(config)
    keys = {}
    for device in devices:
        issued = registry.enrol(device, "device", SITE)
        assert issued.device_key is not None
        keys[device] = (issued.device_key.key_id, issued.device_key.key)
    for device in other_site:
        issued = registry.enrol(device, "device", "elsewhere")
        assert issued.device_key is not None
        keys[device] = (issued.device_key.key_id, issued.device_key.key)
    token = registry.enrol(EDGE, "edge", SITE).uplink_token
    assert token is not None
    return Enrolled(registry, config, keys, token)


def phantom(seq: int, size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """A bright disc on noise: (pixels uint8, its mask)."""
    rng = np.random.default_rng(seq)
    yy, xx = np.mgrid[0:size, 0:size]
    mask = (yy - size * 0.4) ** 2 + (xx - size * 0.55) ** 2 <= (size * 0.15) ** 2
    pixels = np.clip(rng.normal(60, 15, (size, size)) + 120 * mask, 0, 255).astype(np.uint8)
    return pixels, mask


def sealed_image(seq: int, key: tuple[int, bytes], device: str = DEVICE, patient: str | None = PATIENT,
                 t_us: int | None = None, truth: bool = True) -> tuple[bytes, Image, np.ndarray]:
    pixels, mask = phantom(seq)
    image = Image(seq, t_us if t_us is not None else T0_US + seq * 10_000_000, pixels, SPACING)
    layers = (MaskLayer.of(GROUND_TRUTH, "simulator", mask),) if truth else ()
    payload = seal_image(SealedImage(image, patient, "ultrasound", layers), key[1], device=device, key_id=key[0])
    return payload, image, mask


def lesion_event(device: str, image: Image, mask: np.ndarray, version: str = "1.0.0", node: str = EDGE) -> Event:
    """The edge imaging stage's event for an image (the README's "Lesion events" format)."""
    found = bool(mask.any())
    area = int(mask.sum())
    mm2 = round(area * SPACING[0] * SPACING[1], 3)
    return Event(
        device=device, model="imaging", model_version=version, kind=EventKind.INFERENCE,
        label="lesion" if found else "no_lesion", score=0.87 if found else 0.12, window_start_us=image.t_us,
        window_end_us=image.t_us, t_us=image.t_us, site=SITE, node=node,
        priority=Priority.LOW if found else Priority.INFO, value=mm2 if found else 0.0,
        detail={"image_seq": image.seq, "shape": list(mask.shape), "spacing_mm": list(SPACING),
                "mask_rle": encode_rle(mask),
                "lesions": [{"area_px": area, "area_mm2": mm2, "confidence": 0.87, "bbox": [1, 2, 3, 4]}] if found
                else [], "area_px": area, "area_mm2": mm2},
        event_id=uuid.uuid4().hex)


def image_batch(images: list[bytes] = (), events: list[Event] = ()) -> bytes:  # type: ignore[assignment]
    records = [UplinkRecord(RecordKind.IMAGE, p) for p in images]
    records += [UplinkRecord(RecordKind.EVENT, encode_event(e)) for e in events]
    return encode_batch(records)
