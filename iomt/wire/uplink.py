"""Uplink batch codec: how an edge node hands records to the gateway.

A batch is ``b"IU" | version u8 | count u32`` followed by ``kind u8 | length u32 | payload`` per
record. Payloads are the wire forms already defined (binary frame, JSON reading, JSON event), so the
gateway validates them with the same decoders the edge used.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum

from iomt.wire.errors import DecodeError

MAGIC = b"IU"
VERSION = 1
_HEAD = struct.Struct("<2sBI")
_REC = struct.Struct("<BI")
CONTENT_TYPE = "application/x-iomt-uplink"


class RecordKind(IntEnum):
    FRAME = 1
    READING = 2
    EVENT = 3


@dataclass(frozen=True, slots=True)
class UplinkRecord:
    kind: RecordKind
    payload: bytes


def encode_batch(records: Iterable[UplinkRecord]) -> bytes:
    """Concatenate records into one batch."""
    parts = []
    count = 0
    for record in records:
        parts.append(_REC.pack(record.kind, len(record.payload)))
        parts.append(record.payload)
        count += 1
    return _HEAD.pack(MAGIC, VERSION, count) + b"".join(parts)


def decode_batch(body: bytes) -> list[UplinkRecord]:
    """Split a batch into records; raise :class:`DecodeError` on any framing fault."""
    if len(body) < _HEAD.size:
        raise DecodeError("batch", f"truncated: {len(body)} bytes")
    magic, version, count = _HEAD.unpack_from(body)
    if magic != MAGIC:
        raise DecodeError("batch", f"bad magic {magic!r}")
    if version != VERSION:
        raise DecodeError("version", f"unknown uplink batch version {version}")
    offset = _HEAD.size
    records: list[UplinkRecord] = []
    for index in range(count):
        if offset + _REC.size > len(body):
            raise DecodeError("batch", f"truncated before record {index}")
        kind, length = _REC.unpack_from(body, offset)
        offset += _REC.size
        if kind not in RecordKind._value2member_map_:
            raise DecodeError("kind", f"unknown record kind {kind} at record {index}")
        if offset + length > len(body):
            raise DecodeError("batch", f"record {index} runs past the end of the batch")
        records.append(UplinkRecord(RecordKind(kind), body[offset:offset + length]))
        offset += length
    if offset != len(body):
        raise DecodeError("batch", f"{len(body) - offset} stray bytes after {count} records")
    return records
