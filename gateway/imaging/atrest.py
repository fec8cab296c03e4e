"""Images and masks at rest: encrypted (AES-256-GCM) under the gateway's storage key.

Why re-encrypt rather than keep the device's envelope as received: the store also holds what has no
device envelope (the edge's predicted masks, which travel in its lesion event, and legacy devices'
images), and it must stay readable whatever happens to the device registry (a device deleted, its
keys or the registry's master key replaced) — one key of the store's own, which can be kept and
rotated apart from the registry, covers everything the store holds. The device's envelope was
authenticated before anything was stored, and its key id is kept in the index.

A file (little-endian)::

    0   2   magic      b"IS"
    2   1   version    1
    3   4   key_id     u32, the storage key's version (today 1)
    7   12  nonce      random
    19  ... ciphertext + 16-byte tag

The associated data is the 19-byte header plus the image id and the layer name, so a file copied onto
another image or layer does not open. Reading needs the key file, which the gateway keeps 0600 beside
(not inside) the image directory: a copy of the image directory alone is unreadable.
"""

from __future__ import annotations

import os
import secrets
import struct
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"IS"
VERSION = 1
HEAD = struct.Struct("<2sBI12s")
KEY_BYTES = 32
NONCE_BYTES = 12


class AtRestError(RuntimeError):
    """A stored file does not open (altered, moved to another image, or another storage key)."""


def load_or_create_key(path: Path) -> bytes:
    """The storage key in ``path`` (hex), created random and owner-only if the file does not exist."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, secrets.token_bytes(KEY_BYTES).hex().encode() + b"\n")
        finally:
            os.close(fd)
    try:
        key = bytes.fromhex(path.read_text().strip())
    except (OSError, ValueError) as exc:
        raise AtRestError(f"cannot read the image storage key {path}: {type(exc).__name__}") from None
    if len(key) != KEY_BYTES:
        raise AtRestError(f"the image storage key {path} is not {KEY_BYTES} bytes of hex")
    return key


def _aad(header: bytes, image_id: str, layer: str) -> bytes:
    return header + f"\x00{image_id}\x00{layer}".encode()


def seal(key: bytes, data: bytes, image_id: str, layer: str, key_id: int = 1) -> bytes:
    nonce = secrets.token_bytes(NONCE_BYTES)
    header = HEAD.pack(MAGIC, VERSION, key_id, nonce)
    return header + AESGCM(key).encrypt(nonce, data, _aad(header, image_id, layer))


def open_sealed(key: bytes, blob: bytes, image_id: str, layer: str) -> bytes:
    if len(blob) < HEAD.size or blob[:2] != MAGIC or blob[2] != VERSION:
        raise AtRestError(f"{image_id}/{layer}: not an encrypted image file of version {VERSION}")
    _, _, _, nonce = HEAD.unpack_from(blob)
    try:
        return AESGCM(key).decrypt(nonce, blob[HEAD.size:], _aad(blob[:HEAD.size], image_id, layer))
    except InvalidTag:
        raise AtRestError(f"{image_id}/{layer}: does not open with the storage key (altered, moved from another "
                          "image, or written under another key)") from None
