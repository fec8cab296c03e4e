"""Password hashing with scrypt (``hashlib.scrypt``, OpenSSL's implementation).

Why scrypt and not argon2: scrypt is memory-hard, one of OWASP's recommended password KDFs, and in
the standard library, so the gateway gains no compiled dependency (argon2-cffi would be one more on
every gateway host). Parameters: N = 2**15, r = 8, p = 1 (32 MiB and ~0.1 s per hash on this 2-core
machine) — above the scrypt paper's interactive-login setting. Every hash records its own
parameters, so raising them later needs no migration: old hashes still verify, and
:func:`needs_rehash` says when to replace one at the next successful login.

Format: ``scrypt$<log2 N>$<r>$<p>$<salt, base64>$<hash, base64>``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

LOG2_N = 15
R = 8
P = 1
SALT_BYTES = 16
HASH_BYTES = 32
#: Longest password accepted (a longer one is refused, not truncated).
MAX_LENGTH = 1024
MIN_LENGTH = 10


class PasswordError(ValueError):
    """A password that may not be set; the message says why."""


def check_policy(password: str) -> str:
    if not isinstance(password, str) or len(password) < MIN_LENGTH:
        raise PasswordError(f"a password needs at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise PasswordError(f"a password may have at most {MAX_LENGTH} characters")
    return password


def generate() -> str:
    """A new random password (20 URL-safe characters, 120 bits)."""
    return secrets.token_urlsafe(15)


def _scrypt(password: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    n = 1 << log2_n
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=2 * 128 * r * n * p + 2**20,
                          dklen=HASH_BYTES)


def hash_password(password: str, log2_n: int = LOG2_N) -> str:
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(password, salt, log2_n, R, P)
    b64 = base64.b64encode
    return f"scrypt${log2_n}${R}${P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, encoded: str) -> bool:
    """Whether ``password`` matches ``encoded``; a malformed hash matches nothing."""
    try:
        scheme, log2_n, r, p, salt, digest = encoded.split("$")
        n_exp, block, parallel = int(log2_n), int(r), int(p)
        if scheme != "scrypt" or not (10 <= n_exp <= 20 and 1 <= block <= 32 and 1 <= parallel <= 4):
            return False  # parameters no hash of ours has (and that could exhaust memory)
        expected = base64.b64decode(digest)
        actual = _scrypt(password[:MAX_LENGTH], base64.b64decode(salt), n_exp, block, parallel)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def needs_rehash(encoded: str) -> bool:
    """Whether ``encoded`` was made with weaker parameters than the current ones."""
    parts = encoded.split("$")
    try:
        return len(parts) != 6 or parts[0] != "scrypt" or int(parts[1]) < LOG2_N or int(parts[2]) < R
    except ValueError:
        return True


#: A hash that is verified when the user name is unknown, so that the answer takes as long either way.
DUMMY_HASH = (f"scrypt${LOG2_N}${R}${P}${base64.b64encode(bytes(SALT_BYTES)).decode()}"
              f"${base64.b64encode(bytes(HASH_BYTES)).decode()}")
