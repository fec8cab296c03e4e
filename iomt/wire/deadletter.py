"""Dead-letter records: a rejected payload, where it came from and why, as JSON."""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass

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


def make_deadletter(topic: str, field: str, reason: str, node: str, t_us: int, payload: bytes) -> DeadLetter:
    return DeadLetter(
        topic, field, reason, node, t_us, len(payload),
        base64.b64encode(payload[:KEEP_BYTES]).decode(),
    )


def encode_deadletter(record: DeadLetter) -> bytes:
    return json.dumps(asdict(record), separators=(",", ":")).encode()


def decode_deadletter(payload: bytes) -> DeadLetter:
    """Decode a dead-letter record (raises ``ValueError``/``TypeError`` on malformed input)."""
    body = json.loads(payload)
    return DeadLetter(**body)
