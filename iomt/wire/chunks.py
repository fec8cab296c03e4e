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

An imaging object (the usual chunk content)::

    0      2    magic        b"IG"
    2      1    version      1
    3      1    dtype        PixelType: 1 = uint8 grayscale
    4      2    width        u16
    6      2    height       u16
    8      4    seq          u32
    12     8    t_us         acquisition time, microseconds since the Unix epoch
    20     ...  width * height pixels, row-major

Chunks may arrive in any order, duplicated or interleaved with other objects; :class:`Reassembler`
keeps a bounded number of partial objects and drops the oldest when full.
"""

from __future__ import annotations

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
IMAGE_VERSION = 1
IMAGE_HEADER = struct.Struct("<2sBBHHIq")


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


def encode_image(image: Image) -> bytes:
    pixels = np.ascontiguousarray(image.pixels, dtype=np.uint8)
    height, width = pixels.shape
    header = IMAGE_HEADER.pack(IMAGE_MAGIC, IMAGE_VERSION, PixelType.GRAY8, width, height, image.seq, image.t_us)
    return header + pixels.tobytes()


def decode_image(obj: bytes) -> Image:
    if len(obj) < IMAGE_HEADER.size:
        raise DecodeError("header", f"truncated image: {len(obj)} bytes")
    magic, version, dtype, width, height, seq, t_us = IMAGE_HEADER.unpack_from(obj)
    if magic != IMAGE_MAGIC or version != IMAGE_VERSION:
        raise DecodeError("magic", f"not a version-{IMAGE_VERSION} image ({magic!r}, v{version})")
    if dtype not in PixelType._value2member_map_:
        known = ", ".join(f"{t.value}={t.name.lower()}" for t in PixelType)
        raise DecodeError("dtype", f"unknown pixel type {dtype} ({known})")
    body = len(obj) - IMAGE_HEADER.size
    if body != width * height:
        raise DecodeError("size", f"{width}x{height} pixels need {width * height} bytes, got {body}")
    pixels = np.frombuffer(obj, dtype=np.uint8, offset=IMAGE_HEADER.size).reshape(height, width)
    return Image(seq, t_us, pixels)
