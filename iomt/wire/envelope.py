"""The end-to-end envelope: a device payload encrypted and authenticated with the device's own key.

A device seals what it sends (today: imaging objects, :mod:`iomt.wire.sealed_image`) with its 256-bit
key from the device registry, so that only the parties holding that key — the edge of its site, which
needs the pixels, and the gateway's store — can read it, and nobody on the way (a broker, a relay, a
disk holding queued MQTT messages) can read or alter it undetected. Algorithms are AEADs from
``cryptography`` (AES-256-GCM, or ChaCha20-Poly1305 for devices without AES instructions).

Layout (little-endian), version 1::

    offset   size  field
    0        2     magic        b"IE"
    2        1     version      1
    3        1     algorithm    Algorithm: 1 = AES-256-GCM, 2 = ChaCha20-Poly1305, 0 = none (see below)
    4        1     content      ContentType: 1 = a sealed image (iomt.wire.sealed_image)
    5        1     flags        reserved, 0
    6        4     key_id       u32, the version of the device's key in the registry (>= 1; 0 with none)
    10       4     object_id    u32, the object's sequence number on its stream (an image's ``seq``, which is
                                 also the object id of the chunks it travels in, iomt.wire.chunks)
    14       12    nonce        random per envelope (never reused with a key)
    26       1     device_len   1..64
    27       d     device       the sending device's id (ASCII identifier, iomt.wire.topics)
    27+d     1     stream_len   1..64
    28+d     s     stream       the stream (ASCII identifier), e.g. "image"
    28+d+s   ...   ciphertext   the encrypted payload followed by its 16-byte authentication tag

The associated data is the whole header (bytes ``[0, 28+d+s)``): the tag covers every header field, so an
envelope cannot be moved to another device or stream, renumbered as another object, or pointed at
another key or algorithm without failing authentication. A receiver also checks that the
authenticated header agrees with where the envelope arrived (:func:`check_binding`: the topic's
device and stream, the chunks' object id). A replayed envelope is authentic but names its original
device, stream and object: receivers de-duplicate on them.

Algorithm 0 (none) marks a payload that was *not* encrypted: an edge wraps the plain object of a
legacy device in it (so the uplink still says which device and stream it came from). Its payload is the
plaintext, with no tag; every receiver refuses it (field ``encryption``) unless told to accept legacy
devices.

Every malformed field raises :class:`~iomt.wire.errors.DecodeError` naming it; a failed tag raises it
with field ``tag``; a key the receiver does not have raises :class:`UnknownKey` (field ``key_id``).
Keys never appear in an error, a repr or a log.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from iomt.wire.errors import DecodeError
from iomt.wire.topics import is_identifier

MAGIC = b"IE"
VERSION = 1
#: magic, version, algorithm, content, flags, key_id, object_id, nonce
FIXED = struct.Struct("<2sBBBBII12s")
NONCE_BYTES = 12
TAG_BYTES = 16
KEY_BYTES = 32
MAX_NAME = 64


class Algorithm(IntEnum):
    """The ``algorithm`` byte: the AEAD that sealed the payload (both: 96-bit nonce, 128-bit tag)."""

    NONE = 0  # not encrypted: a legacy device's object, wrapped by its edge
    AES_256_GCM = 1
    CHACHA20_POLY1305 = 2

    @property
    def encrypted(self) -> bool:
        return self is not Algorithm.NONE


class ContentType(IntEnum):
    """The ``content`` byte: what the plaintext is."""

    SEALED_IMAGE = 1  # iomt.wire.sealed_image


#: Looks up a device's key by (device, key_id): the 32 key bytes, or None when the caller has no such key.
KeyLookup = Callable[[str, int], "bytes | None"]


class UnknownKey(DecodeError):
    """The receiver holds no key ``key_id`` for the envelope's device (yet: an edge may fetch it)."""

    def __init__(self, device: str, key_id: int) -> None:
        super().__init__("key_id", f"no key {key_id} of device {device!r} here (not enrolled, or a key version "
                                   "this receiver has not been given)")
        self.device = device
        self.key_id = key_id


@dataclass(frozen=True, slots=True)
class Envelope:
    """A decoded (not yet opened) envelope; ``header`` is the associated data the tag covers;
    ``ciphertext`` includes the tag (it is the plaintext itself with algorithm none)."""

    algorithm: Algorithm
    content: ContentType
    key_id: int
    object_id: int
    nonce: bytes
    device: str
    stream: str
    ciphertext: bytes = field(repr=False)
    header: bytes = field(repr=False)


def _cipher(algorithm: Algorithm, key: bytes) -> AESGCM | ChaCha20Poly1305:
    if len(key) != KEY_BYTES:
        # a configuration fault, not bad input: the registry issues 32-byte keys (the key is not shown)
        raise ValueError(f"a device key must be {KEY_BYTES} bytes, got {len(key)}")
    return AESGCM(key) if algorithm is Algorithm.AES_256_GCM else ChaCha20Poly1305(key)


def _name(field_name: str, value: str) -> bytes:
    if not is_identifier(value):
        raise ValueError(f"{field_name} {value!r} is not an identifier (1-64 letters, digits, '_', '.', '-')")
    return bytes([len(value)]) + value.encode("ascii")


def encode_header(algorithm: Algorithm, content: ContentType, key_id: int, object_id: int, nonce: bytes,
                  device: str, stream: str) -> bytes:
    """The header (and associated data) of an envelope."""
    if algorithm.encrypted and not 1 <= key_id <= 0xFFFFFFFF:
        raise ValueError(f"key_id must be 1..2^32-1, got {key_id}")
    if not algorithm.encrypted and key_id != 0:
        raise ValueError("an unencrypted envelope has key_id 0")
    if len(nonce) != NONCE_BYTES:
        raise ValueError(f"nonce must be {NONCE_BYTES} bytes")
    fixed = FIXED.pack(MAGIC, VERSION, algorithm, content, 0, key_id, object_id & 0xFFFFFFFF, nonce)
    return fixed + _name("device", device) + _name("stream", stream)


def seal(key: bytes, plaintext: bytes, *, device: str, stream: str, object_id: int, key_id: int,
         content: ContentType = ContentType.SEALED_IMAGE, algorithm: Algorithm = Algorithm.AES_256_GCM,
         nonce: bytes | None = None) -> bytes:
    """Encrypt and authenticate ``plaintext`` for ``device``/``stream``/``object_id`` under key ``key_id``.

    ``nonce`` is random unless given (tests only: a nonce must never repeat under one key)."""
    if not Algorithm(algorithm).encrypted:
        raise ValueError("seal encrypts: use wrap_unencrypted for a legacy device's plain object")
    nonce = os.urandom(NONCE_BYTES) if nonce is None else nonce
    header = encode_header(Algorithm(algorithm), ContentType(content), key_id, object_id, nonce, device, stream)
    return header + _cipher(Algorithm(algorithm), key).encrypt(nonce, plaintext, header)


def wrap_unencrypted(plaintext: bytes, *, device: str, stream: str, object_id: int,
                     content: ContentType = ContentType.SEALED_IMAGE) -> bytes:
    """An algorithm-0 envelope around a legacy device's plain payload (receivers refuse it by default)."""
    header = encode_header(Algorithm.NONE, ContentType(content), 0, object_id, bytes(NONCE_BYTES), device, stream)
    return header + plaintext


def is_envelope(payload: bytes) -> bool:
    """Whether ``payload`` claims to be an envelope (its magic); an unencrypted object does not."""
    return payload[:2] == MAGIC


def _read_name(payload: bytes, offset: int, field_name: str) -> tuple[str, int]:
    if offset >= len(payload):
        raise DecodeError(field_name, f"truncated envelope: no {field_name} length at byte {offset}")
    length = payload[offset]
    if not 1 <= length <= MAX_NAME:
        raise DecodeError(field_name, f"length must be 1..{MAX_NAME}, got {length}")
    raw = payload[offset + 1:offset + 1 + length]
    if len(raw) != length:
        raise DecodeError(field_name, f"truncated envelope: {field_name} needs {length} bytes, {len(raw)} left")
    try:
        value = raw.decode("ascii")
    except UnicodeDecodeError:
        raise DecodeError(field_name, "is not ASCII") from None
    if not is_identifier(value):
        raise DecodeError(field_name, f"{value!r} is not an identifier (letters, digits, '_', '.', '-')")
    return value, offset + 1 + length


def decode_envelope(payload: bytes) -> Envelope:
    """Parse and validate an envelope's header (the ciphertext is checked only by :func:`open_envelope`)."""
    payload = bytes(payload)
    if len(payload) < FIXED.size:
        raise DecodeError("header", f"truncated envelope: {len(payload)} bytes, the fixed header has {FIXED.size}")
    magic, version, algorithm, content, flags, key_id, object_id, nonce = FIXED.unpack_from(payload)
    if magic != MAGIC:
        raise DecodeError("magic", f"expected {MAGIC!r} (an encrypted envelope), got {magic!r}")
    if version != VERSION:
        raise DecodeError("version", f"unknown envelope version {version} (this receiver reads {VERSION})")
    if algorithm not in Algorithm._value2member_map_:
        known = ", ".join(f"{a.value}={a.name}" for a in Algorithm)
        raise DecodeError("algorithm", f"unknown algorithm {algorithm} ({known})")
    if content not in ContentType._value2member_map_:
        known = ", ".join(f"{c.value}={c.name.lower()}" for c in ContentType)
        raise DecodeError("content", f"unknown content type {content} ({known})")
    if flags != 0:
        raise DecodeError("flags", f"reserved, must be 0, got {flags}")
    encrypted = Algorithm(algorithm).encrypted
    if encrypted and key_id == 0:
        raise DecodeError("key_id", "key versions start at 1, got 0")
    if not encrypted and (key_id != 0 or nonce != bytes(NONCE_BYTES)):
        raise DecodeError("key_id", "an unencrypted envelope has key_id 0 and an all-zero nonce")
    device, offset = _read_name(payload, FIXED.size, "device")
    stream, offset = _read_name(payload, offset, "stream")
    if encrypted and len(payload) - offset < TAG_BYTES:
        raise DecodeError("ciphertext", f"{len(payload) - offset} bytes after the header, shorter than the "
                                        f"{TAG_BYTES}-byte tag")
    return Envelope(Algorithm(algorithm), ContentType(content), key_id, object_id, nonce, device, stream,
                    payload[offset:], payload[:offset])


def check_binding(envelope: Envelope, *, device: str | None = None, stream: str | None = None,
                  object_id: int | None = None) -> None:
    """Refuse an envelope that arrived somewhere else than its authenticated header says."""
    if device is not None and envelope.device != device:
        raise DecodeError("device", f"sealed by {envelope.device!r}, arrived as {device!r}'s")
    if stream is not None and envelope.stream != stream:
        raise DecodeError("stream", f"sealed for stream {envelope.stream!r}, arrived on {stream!r}")
    if object_id is not None and envelope.object_id != object_id & 0xFFFFFFFF:
        raise DecodeError("object_id", f"sealed as object {envelope.object_id}, arrived as object {object_id}")


def open_envelope(envelope: Envelope, keys: KeyLookup, *, allow_unencrypted: bool = False) -> bytes:
    """The plaintext, once the tag holds under the device's key ``key_id``.

    Raises :class:`UnknownKey` without that key, ``DecodeError("tag", ...)`` when authentication fails
    (altered header or ciphertext, wrong key), ``DecodeError("encryption", ...)`` for an unencrypted
    envelope unless ``allow_unencrypted``."""
    if not envelope.algorithm.encrypted:
        if not allow_unencrypted:
            raise DecodeError("encryption", f"{envelope.device}/{envelope.stream} object {envelope.object_id} is not "
                                            "encrypted; images must be sealed end to end with the device's key "
                                            "(allow legacy devices with allow_unencrypted_images)")
        return envelope.ciphertext
    key = keys(envelope.device, envelope.key_id)
    if key is None:
        raise UnknownKey(envelope.device, envelope.key_id)
    try:
        return _cipher(envelope.algorithm, key).decrypt(envelope.nonce, envelope.ciphertext, envelope.header)
    except InvalidTag:
        raise DecodeError("tag", f"authentication failed for {envelope.device}/{envelope.stream} object "
                                 f"{envelope.object_id} under key {envelope.key_id}: altered, or sealed with "
                                 "another key") from None
