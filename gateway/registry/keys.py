"""Device keys at rest: wrapped (AES-256-GCM) under the registry's master key.

A device key must be *retrievable* (the gateway opens what the device sealed), unlike a password,
so it cannot be hashed. It is stored encrypted under a master key that lives in its own file
(mode 0600, beside the registry, never in the database), with the device and key id as associated
data so a wrapped key copied onto another device's row does not open.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gateway.registry.records import RegistryError

KEY_BYTES = 32
NONCE_BYTES = 12


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` readable by the owner only (created so, never widened later)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(path, 0o600)


def load_or_create_master_key(path: Path) -> bytes:
    """The master key in ``path``, created (random, 0600) if the file does not exist."""
    if not path.exists():
        write_private(path, secrets.token_bytes(KEY_BYTES).hex().encode() + b"\n")
    try:
        key = bytes.fromhex(path.read_text().strip())
    except (OSError, ValueError) as exc:
        raise RegistryError(f"cannot read the registry master key {path}: {exc}") from None
    if len(key) != KEY_BYTES:
        raise RegistryError(f"the registry master key {path} is not {KEY_BYTES} bytes of hex")
    return key


def _aad(device: str, key_id: int) -> bytes:
    return f"iomt-device-key:{device}:{key_id}".encode()


def wrap(master: bytes, device: str, key_id: int, key: bytes) -> bytes:
    """``nonce || ciphertext`` of ``key``."""
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce + AESGCM(master).encrypt(nonce, key, _aad(device, key_id))


def unwrap(master: bytes, device: str, key_id: int, wrapped: bytes) -> bytes:
    try:
        return AESGCM(master).decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], _aad(device, key_id))
    except InvalidTag:
        raise RegistryError(
            f"device key {key_id} of {device} does not open with this master key (wrong key file, or the row "
            "was altered)"
        ) from None
