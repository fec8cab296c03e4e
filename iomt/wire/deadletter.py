"""Dead-letter records: a rejected payload, where it came from and why, as JSON.

``field`` and ``reason`` are those of the :class:`DecodeError` that rejected the payload; ``topic`` is
where it arrived (an MQTT topic, or ``uplink`` for a record of an uplink batch). Both are open sets
(a rejected event names its own unknown field), so they stay strings.
"""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass, fields
from typing import Any

from iomt.wire.errors import DecodeError
from iomt.wire.fields import check_int64, check_text, load_json

#: At most this much of the rejected payload is kept, so a flood of huge payloads stays cheap.
KEEP_BYTES = 1024


@dataclass(frozen=True, slots=True)
class DeadLetter:
    topic: str
    field: str
    reason: str
    node: str
    t_us: int
    payload_len: int
    payload_head_b64: str


_FIELDS = tuple(f.name for f in fields(DeadLetter))
_INT_FIELDS = frozenset({"t_us", "payload_len"})


def make_deadletter(topic: str, field: str, reason: str, node: str, t_us: int, payload: bytes) -> DeadLetter:
    return DeadLetter(
        topic, field, reason, node, t_us, len(payload),
        base64.b64encode(payload[:KEEP_BYTES]).decode(),
    )


def encode_deadletter(record: DeadLetter) -> bytes:
    return json.dumps(asdict(record), separators=(",", ":")).encode()


def decode_deadletter(payload: bytes) -> DeadLetter:
    """Decode and validate a dead-letter record; raise :class:`DecodeError` naming the bad field."""
    body: Any = load_json(payload)
    if not isinstance(body, dict):
        raise DecodeError("json", "top level must be an object")
    unknown = sorted(set(body) - set(_FIELDS))
    if unknown:
        raise DecodeError(unknown[0], "unknown dead-letter field")
    for name in _FIELDS:
        if name not in body:
            raise DecodeError(name, "missing")
        value = body[name]
        expected = int if name in _INT_FIELDS else str
        if not isinstance(value, expected) or isinstance(value, bool):
            raise DecodeError(name, f"must be {'an integer' if expected is int else 'a string'}, got {value!r}"[:200])
        if isinstance(value, int):
            check_int64(name, value, minimum=0)
        else:
            check_text(name, value)
    try:
        head = base64.b64decode(body["payload_head_b64"], validate=True)
    except ValueError:  # binascii.Error, or a non-ASCII character
        raise DecodeError("payload_head_b64", "is not base64") from None
    if len(head) > min(KEEP_BYTES, body["payload_len"]):
        raise DecodeError("payload_head_b64", f"holds {len(head)} bytes of a {body['payload_len']}-byte payload")
    return DeadLetter(**body)
