"""Edge credentials for the uplink: which edge node a bearer token belongs to.

The uplink asks an :class:`EdgeAuthority`; the default one, :class:`EdgeTokens`, keeps one token per
edge node in the gateway's state file (table ``edge_tokens(node, digest, created_us)``, the token's
SHA-256 only). The device registry can take its place: anything with ``edge_for_token`` will do, e.g.
``registry.verify_edge_token(token)``'s principal name.

A token is ``<node>.<secret>`` (the secret is URL-safe base64, so it has no dot): the node names the
row, and the secret's digest is compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import threading
import time
from pathlib import Path
from typing import Protocol

from iomt.wire.topics import is_identifier

SCHEMA = """
CREATE TABLE IF NOT EXISTS edge_tokens (
    node TEXT PRIMARY KEY,
    digest TEXT NOT NULL,
    created_us INTEGER NOT NULL
);
"""
SEPARATOR = "."


class EdgeAuthority(Protocol):
    """Says which edge node a credential belongs to."""

    def edge_for_token(self, token: str) -> str | None:
        """The node ``token`` authenticates, or ``None`` (unknown, revoked, malformed)."""
        ...


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class EdgeTokens:
    """Per-edge uplink tokens in the SQLite file ``path``. Thread- and process-safe."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()
        self.path.chmod(0o600)  # digests only, but nobody else needs to read them

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def issue(self, node: str) -> str:
        """A new token for ``node``, replacing any it had (which stops working at once); shown once."""
        if not is_identifier(node):
            raise ValueError(f"invalid edge node {node!r}: use 1-64 letters, digits, '_', '.', '-'")
        secret = secrets.token_urlsafe(32)
        with self._lock:
            self._db.execute(
                "INSERT INTO edge_tokens VALUES (?, ?, ?) ON CONFLICT(node) DO UPDATE SET digest = excluded.digest, "
                "created_us = excluded.created_us", (node, _digest(secret), time.time_ns() // 1000),
            )
        return f"{node}{SEPARATOR}{secret}"

    def revoke(self, node: str) -> bool:
        with self._lock:
            return bool(self._db.execute("DELETE FROM edge_tokens WHERE node = ?", (node,)).rowcount)

    def nodes(self) -> list[tuple[str, int]]:
        """(node, created_us) of every edge holding a token."""
        with self._lock:
            return [(r[0], r[1]) for r in self._db.execute("SELECT node, created_us FROM edge_tokens ORDER BY node")]

    def edge_for_token(self, token: str) -> str | None:
        node, sep, secret = token.rpartition(SEPARATOR)
        if not sep or not node or not secret:
            return None
        with self._lock:
            row = self._db.execute("SELECT digest FROM edge_tokens WHERE node = ?", (node,)).fetchone()
        if row is None or not hmac.compare_digest(row[0], _digest(secret)):
            return None
        return node
