"""What the image store keeps and the API returns about images, their mask layers and the findings.

These records are serialised by :mod:`gateway.serde` (their JSON and JSON Schema come from the fields).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum

#: Namespace of image ids: one id per (device, sequence, acquisition time), computed the same way from an
#: image and from the lesion event about it, so each finds the other whichever arrives first.
IMAGE_NAMESPACE = uuid.UUID("5b0f2a9e-7c43-4d8e-9f61-2e1a7d3c9b04")


def image_id(device: str, seq: int, t_us: int) -> str:
    return uuid.uuid5(IMAGE_NAMESPACE, f"{device}\x1f{seq}\x1f{t_us}").hex


class Layer(StrEnum):
    """The mask layers an image may have."""

    #: what the edge's model found (from its lesion event)
    PREDICTED = "predicted"
    #: the reference the device sent with the image (the simulator's truth)
    GROUND_TRUTH = "ground_truth"


@dataclass(frozen=True, slots=True)
class Finding:
    """The edge model's finding on an image (its lesion event)."""

    label: str
    confidence: float | None
    area_px: int
    area_mm2: float | None
    lesions: int
    model: str
    model_version: str
    event_id: str
    node: str | None


@dataclass(frozen=True, slots=True)
class LayerView:
    """A mask layer of an image (its pixels through ``/masks/{layer}``)."""

    layer: str
    #: who drew it: the device's annotation source (e.g. 'simulator'), or 'edge:<node>' for the model
    source: str
    area_px: int
    area_mm2: float | None
    model_version: str | None


@dataclass(frozen=True, slots=True)
class ImageView:
    """One stored image: when and how it was taken, its geometry, its layers and the model's finding."""

    image_id: str
    device: str
    patient: str | None
    seq: int
    t_us: int
    received_us: int
    modality: str | None
    width: int
    height: int
    spacing_mm: tuple[float, float] | None
    encrypted_in_transit: bool
    device_key_id: int | None
    node: str | None
    layers: tuple[LayerView, ...]
    finding: Finding | None


@dataclass(frozen=True, slots=True)
class MaskView:
    """A mask layer as run lengths (``iomt.wire.masks``: row-major, background first)."""

    image_id: str
    layer: str
    source: str
    shape: tuple[int, int]
    spacing_mm: tuple[float, float] | None
    area_px: int
    area_mm2: float | None
    model_version: str | None
    mask_rle: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class DeviceKeyGrant:
    """A device key released to an edge of the device's site (over the authenticated API, never logged)."""

    device: str
    key_id: int
    #: the 256-bit key, hex
    key: str = field(repr=False)
