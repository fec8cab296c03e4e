"""An append-only, hash-chained audit log of what people and machines did: alert actions, limit
changes, model changes, enrolments, logins.

Each entry stores the SHA-256 of its own canonical JSON form, which includes the previous entry's
hash, so altering, deleting, inserting or reordering any entry breaks the chain from that point on,
and :func:`verify` names the first entry that no longer fits. The chain head (count and last hash)
is also kept in a separate row so that deleting the newest entries is detected too; someone who can
rewrite the whole file can rewrite the head as well, so deployments should copy the head elsewhere
(``iomt audit verify`` prints it) — the log proves integrity relative to a head you kept.

The log lives in its own SQLite file beside whichever time-series store the gateway uses. Appends
are serialised by SQLite's write lock (``BEGIN IMMEDIATE``), so several processes may append.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.sqlite_tx import immediate

GENESIS = "0" * 64

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY,
    t_us INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    count INTEGER NOT NULL,
    hash TEXT NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class AuditEntry:
    seq: int
    t_us: int
    actor: str
    action: str
    target: str
    detail: Mapping[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class Verification:
    """The result of checking the chain: ``ok``, how many entries, the head, and the first problem."""

    ok: bool
    entries: int
    head: str
    problem: str | None = None
    bad_seq: int | None = None


def entry_hash(seq: int, t_us: int, actor: str, action: str, target: str, detail: str, prev_hash: str) -> str:
    """SHA-256 over the canonical JSON of an entry's fields (detail already canonical JSON)."""
    body = json.dumps([seq, t_us, actor, action, target, detail, prev_hash], separators=(",", ":"),
                      ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


def _canonical(detail: Mapping[str, Any]) -> str:
    try:
        return json.dumps(dict(detail), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"audit detail must be plain JSON (no NaN, no objects): {exc}") from None


class AuditLog:
    """The audit log in the SQLite file ``path`` (created if missing)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def append(self, actor: str, action: str, target: str, detail: Mapping[str, Any] | None = None,
               t_us: int | None = None) -> AuditEntry:
        """Append one entry; ``actor`` is who (``user:ann``, ``edge:edge-1``, ``system``), ``action``
        what (``alert.acknowledge``, ``device.enrol``, ``login.failed``...), ``target`` on what.
        Never put a secret in ``detail``."""
        for name, value in (("actor", actor), ("action", action), ("target", target)):
            if not isinstance(value, str) or not value:
                raise ValueError(f"audit {name} must be a non-empty string, got {value!r}")
        body = _canonical(detail or {})
        t = int(time.time() * 1e6) if t_us is None else int(t_us)
        with immediate(self._db, self._lock) as db:
            row = db.execute("SELECT count, hash FROM audit_head WHERE id = 1").fetchone()
            count, prev = (row[0], row[1]) if row else (0, GENESIS)
            seq = count + 1
            digest = entry_hash(seq, t, actor, action, target, body, prev)
            db.execute(
                "INSERT INTO audit (seq, t_us, actor, action, target, detail, prev_hash, hash) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (seq, t, actor, action, target, body, prev, digest),
            )
            db.execute(
                "INSERT INTO audit_head (id, count, hash) VALUES (1, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET count = excluded.count, hash = excluded.hash", (seq, digest),
            )
        return AuditEntry(seq, t, actor, action, target, json.loads(body), prev, digest)

    def entries(self, since_seq: int = 0, limit: int | None = None) -> list[AuditEntry]:
        """Entries after ``since_seq``, oldest first."""
        sql = "SELECT seq, t_us, actor, action, target, detail, prev_hash, hash FROM audit WHERE seq > ? ORDER BY seq"
        args: tuple[Any, ...] = (since_seq,)
        if limit is not None:
            sql += " LIMIT ?"
            args += (limit,)
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [AuditEntry(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), r[6], r[7]) for r in rows]

    def _rows(self) -> Iterator[tuple[Any, ...]]:
        cursor = self._db.execute(
            "SELECT seq, t_us, actor, action, target, detail, prev_hash, hash FROM audit ORDER BY seq"
        )
        yield from cursor

    def verify(self) -> Verification:
        """Recompute the chain; the first entry that does not fit is named."""
        with self._lock:
            head_row = self._db.execute("SELECT count, hash FROM audit_head WHERE id = 1").fetchone()
            expected_seq, prev, n = 1, GENESIS, 0
            for seq, t_us, actor, action, target, detail, prev_hash, digest in self._rows():
                if seq != expected_seq:
                    return Verification(False, n, prev, f"entry {expected_seq} is missing (next is {seq})",
                                        expected_seq)
                if prev_hash != prev:
                    return Verification(False, n, prev, f"entry {seq} does not follow entry {seq - 1}", seq)
                if entry_hash(seq, t_us, actor, action, target, detail, prev_hash) != digest:
                    return Verification(False, n, prev, f"entry {seq} was altered", seq)
                prev, n, expected_seq = digest, n + 1, seq + 1
        head_count, head_hash = head_row if head_row else (0, GENESIS)
        if (head_count, head_hash) != (n, prev):
            return Verification(False, n, prev, f"the log ends at entry {n} but its head says {head_count}: "
                                "entries were removed from the end, or the head was altered", n + 1)
        return Verification(True, n, prev)
