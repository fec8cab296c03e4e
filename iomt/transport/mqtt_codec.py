"""MQTT 3.1.1 packets as bytes: the few the system uses, encoded and split out of a byte stream.

Kept apart from any socket so the client (:mod:`iomt.transport.bulk_mqtt`) and the benchmark load
(which pre-encodes its PUBLISH packets) share one encoder, and so it can be unit-tested.
Packet layouts: MQTT Version 3.1.1, OASIS Standard, section 3.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

CONNECT = 0x10
CONNACK = 0x20
PUBLISH = 0x30
PUBACK = 0x40
SUBSCRIBE = 0x82  # fixed-header flags 0b0010 are mandatory
SUBACK = 0x90
PINGREQ = 0xC0
PINGRESP = 0xD0
DISCONNECT = 0xE0

DUP = 0x08
MAX_REMAINING = 268_435_455

_U16 = struct.Struct(">H")

CONNACK_REASONS = {
    1: "unacceptable protocol version",
    2: "client identifier rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorised",
}


class ProtocolError(RuntimeError):
    """The broker sent something that is not valid MQTT 3.1.1 for this client."""


def remaining_length(n: int) -> bytes:
    if not 0 <= n <= MAX_REMAINING:
        raise ValueError(f"MQTT packet too large: {n} bytes (the protocol limit is {MAX_REMAINING})")
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | 0x80 if n else byte)
        if not n:
            return bytes(out)


def _string(value: str | bytes) -> bytes:
    raw = value.encode() if isinstance(value, str) else value
    if len(raw) > 0xFFFF:
        raise ValueError(f"MQTT string too long: {len(raw)} bytes (limit 65535)")
    return _U16.pack(len(raw)) + raw


def _packet(first: int, body: bytes) -> bytes:
    return bytes((first,)) + remaining_length(len(body)) + body


@dataclass(frozen=True, slots=True)
class Will:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


def connect(
    client_id: str, keepalive_s: int, clean_session: bool, will: Will | None = None,
    username: str | None = None, password: str | None = None,
) -> bytes:
    flags = 0x02 if clean_session else 0
    payload = _string(client_id)
    if will is not None:
        flags |= 0x04 | (will.qos << 3) | (0x20 if will.retain else 0)
        payload += _string(will.topic) + _string(will.payload)
    if username is not None:
        flags |= 0x80
        payload += _string(username)
        if password is not None:
            flags |= 0x40
            payload += _string(password)
    header = _string("MQTT") + bytes((4, flags)) + _U16.pack(keepalive_s)
    return _packet(CONNECT, header + payload)


def publish(topic: str, payload: bytes, qos: int = 0, retain: bool = False, mid: int = 0) -> bytes:
    if qos not in (0, 1):
        raise ValueError(f"QoS {qos} is not supported (use 0 or 1)")
    first = PUBLISH | (qos << 1) | (1 if retain else 0)
    body = _string(topic) + (_U16.pack(mid) if qos else b"") + payload
    return _packet(first, body)


def set_mid(packet: bytes | bytearray, mid: int) -> bytes:
    """A QoS 1 PUBLISH packet (as made by :func:`publish`) with its packet identifier replaced."""
    buf = bytearray(packet)
    at = _body_offset(buf)
    topic_len = _U16.unpack_from(buf, at)[0]
    _U16.pack_into(buf, at + 2 + topic_len, mid)
    return bytes(buf)


def with_dup(packet: bytes) -> bytes:
    """The packet with its DUP flag set (a QoS 1 PUBLISH sent again after a reconnect)."""
    return bytes((packet[0] | DUP,)) + packet[1:]


def _body_offset(buf: bytes | bytearray) -> int:
    at = 1
    while buf[at] & 0x80:
        at += 1
    return at + 1


def puback(mid: int) -> bytes:
    return b"\x40\x02" + _U16.pack(mid)


def pubacks(mids: list[int]) -> bytes:
    """Many PUBACKs in one buffer (one socket write acknowledges a whole batch)."""
    return b"".join([b"\x40\x02" + _U16.pack(mid) for mid in mids])


def subscribe(mid: int, filters: list[tuple[str, int]]) -> bytes:
    body = _U16.pack(mid) + b"".join(_string(f) + bytes((qos,)) for f, qos in filters)
    return _packet(SUBSCRIBE, body)


PINGREQ_PACKET = b"\xc0\x00"
DISCONNECT_PACKET = b"\xe0\x00"


def split(buf: bytearray) -> tuple[list[tuple[int, int, int]], int]:
    """Complete packets at the start of ``buf``: ``([(first byte, body start, body end)], consumed)``.

    A trailing partial packet is left for the next read. Raises :class:`ProtocolError` on a
    malformed remaining length.
    """
    out: list[tuple[int, int, int]] = []
    pos, size = 0, len(buf)
    while pos + 2 <= size:
        length, shift, at = 0, 0, pos + 1
        while True:
            if at >= size:
                return out, pos
            byte = buf[at]
            length |= (byte & 0x7F) << shift
            at += 1
            if not byte & 0x80:
                break
            shift += 7
            if shift > 21:
                raise ProtocolError("remaining length longer than 4 bytes")
        end = at + length
        if end > size:
            break
        out.append((buf[pos], at, end))
        pos = end
    return out, pos


def parse_publish(first: int, body: bytes | memoryview) -> tuple[str, int, bytes, int]:
    """``(topic, qos, payload, mid)`` of a PUBLISH body; :class:`ProtocolError` if it is cut short.

    A topic that is not UTF-8 (a broker must never send one, MQTT 3.1.1 section 1.5.3) is still
    delivered, its bad bytes written as ``\\xNN`` escapes: the receiver rejects such a topic like any
    other malformed one (a dead letter) and acknowledges it. Refusing the packet instead would make
    the broker send it again on every reconnect of a persistent session, forever.
    """
    qos = (first >> 1) & 0x03
    if qos > 1:
        raise ProtocolError(f"PUBLISH with QoS {qos}; this client subscribes with QoS 0 or 1 only")
    if len(body) < 2:
        raise ProtocolError(f"PUBLISH of {len(body)} bytes has no room for its topic length")
    topic_len = (body[0] << 8) | body[1]
    at = 2 + topic_len
    if at + (2 if qos else 0) > len(body):
        raise ProtocolError(f"PUBLISH topic of {topic_len} bytes (and packet id) runs past its {len(body)}-byte body")
    topic = bytes(body[2:at]).decode("utf-8", "backslashreplace")
    mid = 0
    if qos:
        mid = (body[at] << 8) | body[at + 1]
        at += 2
    return topic, qos, bytes(body[at:]), mid


def packet_id(body: bytes | memoryview, kind: str) -> int:
    """The packet identifier at the start of a PUBACK or SUBACK body."""
    if len(body) < 2:
        raise ProtocolError(f"{kind} of {len(body)} bytes has no packet identifier")
    return (body[0] << 8) | body[1]


def topic_matches(topic_filter: str, topic: str) -> bool:
    """MQTT wildcard matching (``+`` one level, ``#`` the rest); ``$``-topics need an explicit start."""
    if topic.startswith("$") and not topic_filter.startswith("$"):
        return False
    f_parts, t_parts = topic_filter.split("/"), topic.split("/")
    for i, part in enumerate(f_parts):
        if part == "#":
            return True
        if i >= len(t_parts) or (part != "+" and part != t_parts[i]):
            return False
    return len(f_parts) == len(t_parts)
