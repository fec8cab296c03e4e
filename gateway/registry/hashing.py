"""Secrets: generated, hashed for verification only, compared in constant time.

Hash format: mosquitto's own (``$7$<iterations>$<salt b64>$<hash b64>``, PBKDF2-HMAC-SHA512 with a
12-byte salt, the format of ``mosquitto_passwd`` and of the dynamic security plugin's JSON). So the
registry can verify a password itself (the embedded broker, an uplink token) *and* hand the same
hash to mosquitto without ever holding the secret in clear.

Iterations: every MQTT password and token the registry issues is 32 random bytes, so brute-forcing a
leaked hash is hopeless at any iteration count, and mosquitto's default of 101 keeps each broker
CONNECT cheap. Passwords people choose get :data:`PERSON_ITERATIONS` (OWASP's figure for
PBKDF2-SHA512), which makes a guess cost ~0.2 s of CPU.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

#: Iterations for generated (high-entropy) secrets; mosquitto's default.
GENERATED_ITERATIONS = 101
#: Iterations for passwords chosen by people.
PERSON_ITERATIONS = 210_000
SALT_BYTES = 12
SECRET_BYTES = 32


def new_secret(nbytes: int = SECRET_BYTES) -> str:
    """A random secret, URL-safe (so it fits a config file, an HTTP header and an MQTT password)."""
    return secrets.token_urlsafe(nbytes)


def hash_secret(secret: str, iterations: int = GENERATED_ITERATIONS, *, salt: bytes | None = None) -> str:
    """The mosquitto-format hash of ``secret``."""
    if iterations < 1:
        raise ValueError("iterations must be at least 1")
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", secret.encode(), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def parse_hash(stored: str) -> tuple[int, bytes, bytes]:
    """(iterations, salt, digest) of a mosquitto-format hash; ValueError if it is not one."""
    parts = stored.split("$")
    if len(parts) != 5 or parts[0] or parts[1] != "7":
        raise ValueError("not a $7$ (PBKDF2-SHA512) hash")
    try:
        return int(parts[2]), base64.b64decode(parts[3], validate=True), base64.b64decode(parts[4], validate=True)
    except (ValueError, binascii.Error):
        raise ValueError("malformed $7$ hash") from None


def verify_secret(secret: str, stored: str) -> bool:
    """Whether ``secret`` matches ``stored`` (constant-time comparison; False for a malformed hash)."""
    try:
        iterations, salt, digest = parse_hash(stored)
    except ValueError:
        return False
    candidate = hashlib.pbkdf2_hmac("sha512", secret.encode(), salt, iterations)
    return hmac.compare_digest(candidate, digest)
