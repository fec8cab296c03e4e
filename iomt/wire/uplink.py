"""The uplink: how an edge node hands records to the gateway, over HTTP.

The whole HTTP contract lives here, so that the edge (the client) and the gateway (the server) cannot
drift apart:

* ``POST`` :data:`UPLINK_PATH` with ``Content-Type:`` :data:`CONTENT_TYPE` and the sending node's id in
  the :data:`NODE_HEADER` header; the body is one batch (below).
* The gateway answers 200 only after its store committed the batch, with an :class:`UplinkAck` as JSON
  (``{"stored": n, "duplicates": n, "rejected": n}``, :data:`ACK_CONTENT_TYPE`); any other status
  means nothing is acknowledged and the edge keeps the records.

A batch is ``b"IU" | version u8 | count u32`` followed by ``kind u8 | length u32 | payload`` per
record. Payloads are the wire forms already defined (binary frame, JSON reading, JSON event, and an
image as its device sealed it: the envelope of :mod:`iomt.wire.envelope`, still encrypted), so the
gateway validates them with the same decoders the edge used.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterable
from dataclasses import dataclass, fields
from enum import IntEnum
from typing import Any

from iomt.wire.errors import DecodeError
from iomt.wire.fields import load_json

#: Where the gateway receives batches.
UPLINK_PATH = "/api/v1/uplink"
#: The request header that names the sending edge node (the gateway records it on rejected records
#: and on events that do not name their node).
NODE_HEADER = "X-Iomt-Node"
#: The media type of a batch (the request body).
CONTENT_TYPE = "application/x-iomt-uplink"
#: The media type of the acknowledgement (the 200 answer's body).
ACK_CONTENT_TYPE = "application/json"

MAGIC = b"IU"
VERSION = 1
_HEAD = struct.Struct("<2sBI")
_REC = struct.Struct("<BI")


class RecordKind(IntEnum):
    FRAME = 1
    READING = 2
    EVENT = 3
    #: a reassembled imaging object as the device sent it: its envelope (iomt.wire.envelope), still
    #: encrypted end to end (or, from a legacy device the deployment allows, the plain object)
    IMAGE = 4


@dataclass(frozen=True, slots=True)
class UplinkRecord:
    kind: RecordKind
    payload: bytes


@dataclass(frozen=True, slots=True)
class UplinkAck:
    """What the gateway committed of one batch.

    ``stored`` records are new in the store, ``duplicates`` were already there (a redelivery after a
    lost acknowledgement), ``rejected`` failed validation and were dead-lettered. Each is a count, so a
    negative or non-integer value raises :class:`DecodeError` (also when built in code).
    """

    stored: int
    duplicates: int
    rejected: int

    def __post_init__(self) -> None:
        for name in ACK_FIELDS:
            _check_count(name, getattr(self, name))


#: The keys of the acknowledgement body, in order.
ACK_FIELDS = tuple(f.name for f in fields(UplinkAck))


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


def encode_ack(ack: UplinkAck) -> bytes:
    """The acknowledgement body: compact JSON with exactly the keys of :data:`ACK_FIELDS`."""
    return json.dumps({name: getattr(ack, name) for name in ACK_FIELDS}, separators=(",", ":")).encode()


def decode_ack(body: bytes) -> UplinkAck:
    """Decode and validate an acknowledgement; raise :class:`DecodeError` naming the bad key.

    Every key must be present with a non-negative integer and no other key may appear: an edge deletes
    records on the strength of this answer, so it must not guess at one it does not understand.
    """
    data: Any = load_json(body, "acknowledgement is not JSON")
    if not isinstance(data, dict):
        raise DecodeError("json", f"acknowledgement must be an object, got {type(data).__name__}")
    unknown = sorted(set(data) - set(ACK_FIELDS))
    if unknown:
        raise DecodeError(unknown[0], f"unknown acknowledgement key (expected {', '.join(ACK_FIELDS)})")
    for name in ACK_FIELDS:
        if name not in data:
            raise DecodeError(name, "missing from the acknowledgement")
        _check_count(name, data[name])
    return UplinkAck(**data)


def _check_count(name: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise DecodeError(name, f"must be an integer count, got {type(value).__name__} {value!r}")
    if value < 0:
        raise DecodeError(name, f"must not be negative, got {value}")
