"""Large payloads (imaging frames) split into chunks that fit any MQTT path, and reassembled.

A chunk (little-endian), published on the device's data topic for the stream (e.g. ``image``)::

    offset size field
    0      2    magic        b"IC"
    2      1    version      1
    3      1    flags        reserved, 0
    4      4    object_id    u32, the object's sequence number on this device stream
    8      2    index        u16, 0-based chunk index
    10     2    count        u16, number of chunks of the object (1..4096)
    12     4    total_size   u32, object size in bytes
    16     4    crc32        u32, CRC-32 of the whole object (checked after reassembly)
    20     ...  data         bytes [index * chunk_size, ...) of the object; all chunks but the last
                             have the same size

An imaging object (the usual chunk content), version 2::

    0      2    magic        b"IG"
    2      1    version      2 (1 is still read: no spacing, so 20 header bytes)
    3      1    dtype        PixelType: 1 = uint8 grayscale
    4      2    width        u16
    6      2    height       u16
    8      4    seq          u32
    12     8    t_us         acquisition time, microseconds since the Unix epoch
    20     4    row_mm       f32, pixel spacing between rows (vertical), millimetres; 0 = unknown
    24     4    col_mm       f32, pixel spacing between columns (horizontal), millimetres; 0 = unknown
    28     ...  width * height pixels, row-major

Spacing travels with each image (DICOM's PixelSpacing order: row, column) so that areas and
distances measured on it can be given in millimetres. Both spacings are known (each in
(0, 1000] mm) or both unknown (0). Version 2 is what :func:`encode_image` writes since spacing was
added; a version-1 object decodes with ``spacing_mm=None``.

Chunks may arrive in any order, duplicated or interleaved with other objects; :class:`Reassembler`
keeps a bounded number of partial objects and drops the oldest when full.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from iomt.wire.errors import DecodeError

CHUNK_MAGIC = b"IC"
CHUNK_VERSION = 1
CHUNK_HEADER = struct.Struct("<2sBBIHHII")
MAX_CHUNKS = 4096
DEFAULT_CHUNK_SIZE = 4096

IMAGE_MAGIC = b"IG"
IMAGE_VERSION = 2
IMAGE_HEADER = struct.Struct("<2sBBHHIqff")
#: The version-1 header (no spacing), still decoded.
IMAGE_HEADER_V1 = struct.Struct("<2sBBHHIq")
#: Largest pixel spacing accepted, millimetres (a 1 m pixel is no medical image).
MAX_SPACING_MM = 1000.0


class PixelType(IntEnum):
    """The ``dtype`` byte of an imaging object: how its pixels are stored."""

    GRAY8 = 1  # uint8 grayscale


@dataclass(frozen=True, slots=True)
class Chunk:
    object_id: int
    index: int
    count: int
    total_size: int
    crc32: int
    data: bytes


@dataclass(frozen=True, slots=True)
class Image:
    seq: int
    t_us: int
    pixels: np.ndarray  # (height, width) uint8
    #: (row, column) pixel spacing in millimetres, or None when the device does not know it.
    spacing_mm: tuple[float, float] | None = None


def split(obj: bytes, object_id: int, chunk_size: int = DEFAULT_CHUNK_SIZE) -> list[bytes]:
    """The chunks of ``obj``."""
    if chunk_size < 1:
        raise ValueError("chunk_size must be positive")
    count = max(1, -(-len(obj) // chunk_size))
    if count > MAX_CHUNKS:
        raise ValueError(f"object of {len(obj)} bytes needs {count} chunks; at most {MAX_CHUNKS}")
    crc = zlib.crc32(obj)
    return [
        CHUNK_HEADER.pack(CHUNK_MAGIC, CHUNK_VERSION, 0, object_id & 0xFFFFFFFF, i, count, len(obj), crc)
        + obj[i * chunk_size:(i + 1) * chunk_size]
        for i in range(count)
    ]


def decode_chunk(payload: bytes) -> Chunk:
    if len(payload) < CHUNK_HEADER.size:
        raise DecodeError("header", f"truncated chunk: {len(payload)} bytes")
    magic, version, _flags, object_id, index, count, total, crc = CHUNK_HEADER.unpack_from(payload)
    if magic != CHUNK_MAGIC:
        raise DecodeError("magic", f"expected {CHUNK_MAGIC!r}, got {magic!r}")
    if version != CHUNK_VERSION:
        raise DecodeError("version", f"unknown chunk format version {version}")
    if not 1 <= count <= MAX_CHUNKS:
        raise DecodeError("count", f"must be 1..{MAX_CHUNKS}, got {count}")
    if index >= count:
        raise DecodeError("index", f"chunk {index} of {count}")
    return Chunk(object_id, index, count, total, crc, bytes(payload[CHUNK_HEADER.size:]))


class Reassembler:
    """Collects chunks; :meth:`add` returns the object once all its chunks are in and its CRC holds."""

    def __init__(self, max_partial: int = 64) -> None:
        self.max_partial = max_partial
        self._partial: OrderedDict[tuple[str, int], dict[int, Chunk]] = OrderedDict()
        self.dropped = 0

    def add(self, source: str, payload: bytes) -> bytes | None:
        chunk = decode_chunk(payload)
        key = (source, chunk.object_id)
        parts = self._partial.setdefault(key, {})
        first = next(iter(parts.values()), None)
        if first is not None and (first.count, first.total_size, first.crc32) != (
                chunk.count, chunk.total_size, chunk.crc32):
            # the object already begun keeps its chunks; the one that contradicts it is rejected
            raise DecodeError("count", f"chunk {chunk.index} of object {chunk.object_id} says {chunk.count} chunks, "
                              f"{chunk.total_size} bytes; an earlier one said {first.count}, {first.total_size}")
        parts[chunk.index] = chunk
        if len(parts) < chunk.count:
            while len(self._partial) > self.max_partial:
                self._partial.popitem(last=False)
                self.dropped += 1
            return None
        del self._partial[key]
        obj = b"".join(parts[i].data for i in range(chunk.count))
        if len(obj) != chunk.total_size:
            raise DecodeError("total_size", f"reassembled {len(obj)} bytes, header says {chunk.total_size}")
        if zlib.crc32(obj) != chunk.crc32:
            raise DecodeError("crc32", "reassembled object fails its CRC")
        return obj


def check_spacing(spacing_mm: tuple[float, float] | None) -> tuple[float, float] | None:
    """``spacing_mm`` as two floats, or None; raise ``DecodeError("spacing", ...)`` when out of range."""
    if spacing_mm is None:
        return None
    try:
        row, col = (float(v) for v in spacing_mm)
    except (TypeError, ValueError):
        raise DecodeError("spacing", f"must be two numbers (row, column) in mm, got {spacing_mm!r}") from None
    if row == 0.0 and col == 0.0:
        return None
    for name, v in (("row", row), ("column", col)):
        if not (math.isfinite(v) and 0.0 < v <= MAX_SPACING_MM):
            raise DecodeError("spacing", f"{name} spacing {v} mm is not in (0, {MAX_SPACING_MM:g}]"
                              " (both known, or both 0 for unknown)")
    return row, col


def encode_image(image: Image) -> bytes:
    """A version-2 imaging object; raises ``DecodeError`` (field ``spacing``) for an impossible spacing."""
    pixels = np.ascontiguousarray(image.pixels, dtype=np.uint8)
    if pixels.ndim != 2 or min(pixels.shape) < 1 or max(pixels.shape) > 0xFFFF:
        raise ValueError(f"pixels must be (height, width) with 1..65535 each, got shape {pixels.shape}")
    height, width = pixels.shape
    row, col = check_spacing(image.spacing_mm) or (0.0, 0.0)
    header = IMAGE_HEADER.pack(IMAGE_MAGIC, IMAGE_VERSION, PixelType.GRAY8, width, height, image.seq, image.t_us,
                               row, col)
    return header + pixels.tobytes()


def decode_image(obj: bytes) -> Image:
    """Decode and validate a version-2 (or version-1) imaging object; ``DecodeError`` names the bad field."""
    if len(obj) < IMAGE_HEADER_V1.size:
        raise DecodeError("header", f"truncated image: {len(obj)} bytes")
    magic, version = obj[:2], obj[2]
    if magic != IMAGE_MAGIC or version not in (1, IMAGE_VERSION):
        raise DecodeError("magic", f"not a version-1 or -{IMAGE_VERSION} image ({bytes(magic)!r}, v{version})")
    spacing: tuple[float, float] | None = None
    if version == 1:
        _, _, dtype, width, height, seq, t_us = IMAGE_HEADER_V1.unpack_from(obj)
        offset = IMAGE_HEADER_V1.size
    else:
        if len(obj) < IMAGE_HEADER.size:
            raise DecodeError("header", f"truncated image: {len(obj)} bytes")
        _, _, dtype, width, height, seq, t_us, row, col = IMAGE_HEADER.unpack_from(obj)
        offset = IMAGE_HEADER.size
        # float32 on the wire: 7 significant digits give back the decimal the device wrote
        spacing = check_spacing((float(f"{row:.7g}"), float(f"{col:.7g}")))
    if dtype not in PixelType._value2member_map_:
        known = ", ".join(f"{t.value}={t.name.lower()}" for t in PixelType)
        raise DecodeError("dtype", f"unknown pixel type {dtype} ({known})")
    if width == 0 or height == 0:
        raise DecodeError("size", f"{width}x{height} pixels: an image has at least one pixel")
    body = len(obj) - offset
    if body != width * height:
        raise DecodeError("size", f"{width}x{height} pixels need {width * height} bytes, got {body}")
    pixels = np.frombuffer(obj, dtype=np.uint8, offset=offset).reshape(height, width)
    return Image(seq, t_us, pixels, spacing)
