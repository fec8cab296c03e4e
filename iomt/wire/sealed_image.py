"""A sealed image: what an imaging device encrypts (:mod:`iomt.wire.envelope`, content ``SEALED_IMAGE``).

The plaintext holds the imaging object (:mod:`iomt.wire.chunks`: pixels, size, sequence, time, pixel
spacing) and the facts about it a DICOM header would carry and that must stay as private as the pixels:
which patient was imaged, the modality, and annotation layers the device sends with it (the
simulator's ground-truth lesion mask). Layout (little-endian), version 1::

    offset  size  field
    0       1     version     1
    1       4     meta_len    u32, 0..MAX_META_BYTES
    5       n     meta        UTF-8 JSON object (below); empty when meta_len is 0
    5+n     ...   image       the imaging object (b"IG" ..., iomt.wire.chunks.decode_image)

``meta`` (every key optional)::

    {"patient": "patient-0003",        # the imaged patient's id (an identifier), as DICOM's PatientID
     "modality": "ultrasound",         # one of MODALITIES
     "annotations": [                  # mask layers of this image (at most MAX_ANNOTATIONS)
        {"layer": "ground_truth",      # an identifier; unique within the image
         "source": "simulator",        # who drew it (1-64 printable characters)
         "shape": [height, width],     # must be the image's
         "mask_rle": [...]}]}          # iomt.wire.masks run lengths

The whole plaintext is authenticated by the envelope, so none of it can be altered on the way; this
module validates what a well-meaning but faulty device might get wrong, and names the field.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from iomt.wire import envelope as env
from iomt.wire.chunks import Image, decode_image, encode_image
from iomt.wire.errors import DecodeError
from iomt.wire.masks import decode_rle, encode_rle
from iomt.wire.topics import is_identifier

VERSION = 1
HEAD = struct.Struct("<BI")
MAX_META_BYTES = 4 * 1024 * 1024
MAX_ANNOTATIONS = 8
MODALITIES = ("ultrasound", "xray", "ct", "mr", "other")
#: The layer name of a simulator's (or any reference) ground-truth mask.
GROUND_TRUTH = "ground_truth"
_META_KEYS = frozenset({"patient", "modality", "annotations"})
_LAYER_KEYS = frozenset({"layer", "source", "shape", "mask_rle"})


@dataclass(frozen=True, slots=True)
class MaskLayer:
    """One annotation layer: a binary mask of the image, run-length encoded (:mod:`iomt.wire.masks`)."""

    layer: str
    source: str
    shape: tuple[int, int]
    runs: tuple[int, ...] = field(repr=False)

    def mask(self) -> np.ndarray:
        return decode_rle(self.runs, self.shape)

    @classmethod
    def of(cls, layer: str, source: str, mask: np.ndarray) -> MaskLayer:
        height, width = np.asarray(mask).shape
        return cls(layer, source, (int(height), int(width)), tuple(encode_rle(mask)))


@dataclass(frozen=True, slots=True)
class SealedImage:
    """The decoded plaintext of a sealed image."""

    image: Image
    patient: str | None = None
    modality: str | None = None
    annotations: tuple[MaskLayer, ...] = ()


@dataclass(frozen=True, slots=True)
class OpenedImage:
    """An envelope that opened, with what it held (``payload`` is the envelope as received)."""

    envelope: env.Envelope
    sealed: SealedImage
    payload: bytes = field(repr=False)


def encode_sealed_image(sealed: SealedImage) -> bytes:
    """The plaintext of ``sealed`` (raises ``ValueError``/``DecodeError`` for what a receiver would refuse)."""
    meta: dict[str, Any] = {}
    if sealed.patient is not None:
        meta["patient"] = sealed.patient
    if sealed.modality is not None:
        meta["modality"] = sealed.modality
    if sealed.annotations:
        meta["annotations"] = [{"layer": a.layer, "source": a.source, "shape": list(a.shape),
                                "mask_rle": list(a.runs)} for a in sealed.annotations]
    raw = json.dumps(meta, separators=(",", ":")).encode() if meta else b""
    image = encode_image(sealed.image)
    _check_meta(meta, sealed.image)  # the same checks as the receiver's, so a device cannot send what is refused
    return HEAD.pack(VERSION, len(raw)) + raw + image


def decode_sealed_image(plaintext: bytes) -> SealedImage:
    """Parse and validate the plaintext of a sealed image; ``DecodeError`` names the bad field."""
    if len(plaintext) < HEAD.size:
        raise DecodeError("sealed_image", f"truncated: {len(plaintext)} bytes")
    version, meta_len = HEAD.unpack_from(plaintext)
    if version != VERSION:
        raise DecodeError("sealed_image", f"unknown sealed image version {version} (this receiver reads {VERSION})")
    if meta_len > MAX_META_BYTES:
        raise DecodeError("meta", f"{meta_len} bytes of metadata; at most {MAX_META_BYTES}")
    if HEAD.size + meta_len > len(plaintext):
        raise DecodeError("meta", f"metadata of {meta_len} bytes runs past the end ({len(plaintext)} bytes)")
    raw = plaintext[HEAD.size:HEAD.size + meta_len]
    meta: Any = {}
    if meta_len:
        try:
            meta = json.loads(raw)
        except ValueError as exc:  # not UTF-8, not JSON, or an integer of more digits than Python parses
            raise DecodeError("meta", f"not UTF-8 JSON: {exc}") from None
        except RecursionError:
            raise DecodeError("meta", "JSON nested too deeply") from None
    image = decode_image(plaintext[HEAD.size + meta_len:])
    return SealedImage(image, *_check_meta(meta, image))


def _check_meta(meta: Any, image: Image) -> tuple[str | None, str | None, tuple[MaskLayer, ...]]:
    if not isinstance(meta, dict):
        raise DecodeError("meta", f"must be a JSON object, got {type(meta).__name__}")
    unknown = sorted(set(meta) - _META_KEYS)
    if unknown:
        raise DecodeError(unknown[0], f"unknown metadata key (known: {', '.join(sorted(_META_KEYS))})")
    patient = meta.get("patient")
    if patient is not None and (not isinstance(patient, str) or not is_identifier(patient)):
        raise DecodeError("patient", f"must be an identifier (letters, digits, '_', '.', '-'), got {patient!r}")
    modality = meta.get("modality")
    if modality is not None and modality not in MODALITIES:
        raise DecodeError("modality", f"must be one of {', '.join(MODALITIES)}, got {modality!r}")
    annotations = meta.get("annotations", [])
    if not isinstance(annotations, list):
        raise DecodeError("annotations", f"must be a list, got {type(annotations).__name__}")
    if len(annotations) > MAX_ANNOTATIONS:
        raise DecodeError("annotations", f"{len(annotations)} layers; at most {MAX_ANNOTATIONS}")
    layers: list[MaskLayer] = []
    for item in annotations:
        layer = _layer(item, image)
        if any(existing.layer == layer.layer for existing in layers):
            raise DecodeError("layer", f"layer {layer.layer!r} appears twice")
        layers.append(layer)
    return patient, modality, tuple(layers)


def _layer(item: Any, image: Image) -> MaskLayer:
    if not isinstance(item, dict):
        raise DecodeError("annotations", f"each layer must be an object, got {type(item).__name__}")
    unknown = sorted(set(item) - _LAYER_KEYS)
    if unknown:
        raise DecodeError(unknown[0], f"unknown annotation key (known: {', '.join(sorted(_LAYER_KEYS))})")
    name, source, shape, runs = item.get("layer"), item.get("source"), item.get("shape"), item.get("mask_rle")
    if not isinstance(name, str) or not is_identifier(name):
        raise DecodeError("layer", f"must be an identifier, got {name!r}")
    if not isinstance(source, str) or not 1 <= len(source) <= 64 or not source.isprintable():
        raise DecodeError("source", f"must be 1-64 printable characters, got {source!r}")
    expected = [int(v) for v in image.pixels.shape]
    if not isinstance(shape, list) or shape != expected or any(isinstance(v, bool) for v in shape):
        raise DecodeError("shape", f"layer {name!r} has shape {shape!r}; the image is {expected}")
    pixels = expected[0] * expected[1]
    if not isinstance(runs, list) or not all(type(r) is int and 0 <= r <= pixels for r in runs):
        raise DecodeError("mask_rle", f"layer {name!r}: must be a list of run lengths, each 0..{pixels}")
    decode_rle(runs, expected)  # validates (DecodeError naming mask_rle or shape)
    return MaskLayer(name, source, (expected[0], expected[1]), tuple(int(r) for r in runs))


def seal_image(sealed: SealedImage, key: bytes, *, device: str, key_id: int, stream: str = "image",
               algorithm: env.Algorithm = env.Algorithm.AES_256_GCM) -> bytes:
    """The envelope of ``sealed`` for ``device`` (object id = the image's sequence number)."""
    return env.seal(key, encode_sealed_image(sealed), device=device, stream=stream, object_id=sealed.image.seq,
                    key_id=key_id, content=env.ContentType.SEALED_IMAGE, algorithm=algorithm)


def wrap_legacy_image(obj: bytes, *, device: str, stream: str = "image") -> bytes:
    """A legacy device's plain imaging object as an unencrypted envelope (what an edge forwards for it);
    ``DecodeError`` when ``obj`` is not a valid imaging object."""
    image = decode_image(obj)
    return env.wrap_unencrypted(encode_sealed_image(SealedImage(image)), device=device, stream=stream,
                                object_id=image.seq)


def open_image(payload: bytes, keys: env.KeyLookup, *, device: str | None = None, stream: str | None = None,
               object_id: int | None = None, allow_unencrypted: bool = False) -> OpenedImage:
    """Decode, check where it arrived against its header, authenticate, decrypt and validate an envelope.

    Raises ``DecodeError`` naming the field (``tag`` when authentication fails, ``seq`` when the image
    inside is numbered otherwise than its envelope, ``encryption`` for an unencrypted one unless
    ``allow_unencrypted``) or :class:`~iomt.wire.envelope.UnknownKey`."""
    envelope = env.decode_envelope(payload)
    env.check_binding(envelope, device=device, stream=stream, object_id=object_id)
    if envelope.content is not env.ContentType.SEALED_IMAGE:
        raise DecodeError("content", f"expected a sealed image, got {envelope.content.name.lower()}")
    sealed = decode_sealed_image(env.open_envelope(envelope, keys, allow_unencrypted=allow_unencrypted))
    if sealed.image.seq != envelope.object_id:
        raise DecodeError("seq", f"image {sealed.image.seq} sealed as object {envelope.object_id}")
    return OpenedImage(envelope, sealed, bytes(payload))
