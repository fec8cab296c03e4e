"""The user store: people, their roles and password hashes, and the sessions and API tokens they hold.

It lives in the gateway's state file (SQLite, beside the store whichever time-series backend is used;
:meth:`gateway.config.GatewayConfig.state_file`), in two tables:

* ``users(name, role, password_hash, created_us, changed_us)`` — passwords as scrypt hashes
  (:mod:`gateway.auth.passwords`);
* ``user_credentials(digest, user, kind, label, created_us, expires_us, last_used_us)`` — browser
  sessions (``kind = 'session'``) and API tokens (``'token'``), stored as the SHA-256 of the secret:
  they are 256-bit random values, so a fast hash is enough and a stolen file yields none of them.

Safe to share between processes (the gateway and the ``iomt users`` command): WAL, a busy timeout,
and writes in ``BEGIN IMMEDIATE`` transactions. Every credential is checked against the tables on
each request, so removing a user or changing a password (which revokes the user's sessions and
tokens) takes effect at once, also when done by the command while the gateway runs.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

from gateway.auth import passwords
from gateway.auth.roles import Credential, Principal, PrincipalKind, Role
from gateway.sqlite_tx import immediate
from iomt.wire.topics import is_identifier

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    changed_us INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS user_credentials (
    digest TEXT PRIMARY KEY,
    user TEXT NOT NULL,
    kind TEXT NOT NULL,
    label TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    expires_us INTEGER NOT NULL,
    last_used_us INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS user_credentials_by_user ON user_credentials(user);
"""

#: The user the first run creates.
ADMIN = "admin"
#: A session's last use is written at most this often (each request reads it; few need to write it).
TOUCH_EVERY_US = 60_000_000
#: Prefix of API tokens, so that secret scanners and people recognise one.
TOKEN_PREFIX = "iomt_"


class UserError(ValueError):
    """A user operation was refused; the message says what is wrong and what to do."""


class UnknownUser(UserError, LookupError):
    """No user has this name."""


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: Role
    created_us: int
    changed_us: int


@dataclass(frozen=True, slots=True)
class Issued:
    """A new session or API token: ``secret`` is shown once (to the browser or the client) and stored
    only as ``digest``."""

    secret: str = field(repr=False)
    digest: str
    user: str
    role: Role
    kind: Credential
    label: str
    expires_us: int


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_name(name: str) -> str:
    if not isinstance(name, str) or not is_identifier(name):
        raise UserError(f"invalid user name {name!r}: use 1-64 letters, digits, '_', '.', '-', not starting with '_'")
    return name


def check_role(role: str | Role) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise UserError(f"unknown role {role!r}; use one of {', '.join(Role)}") from None


class UserStore:
    """Users and their credentials in the SQLite file ``path`` (created if missing)."""

    def __init__(self, path: Path | str, *, session_idle_s: float = 1800.0, session_max_s: float = 43_200.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.session_idle_us = round(session_idle_s * 1e6)
        self.session_max_us = round(session_max_s * 1e6)
        self._clock = clock
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()
        self.path.chmod(0o600)  # hashes only, but nobody else needs to read them

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _now_us(self) -> int:
        return round(self._clock() * 1e6)

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        return immediate(self._db, self._lock)

    # -- users ---------------------------------------------------------------------------------------
    def add(self, name: str, role: str | Role, password: str) -> User:
        """A new user; :class:`UserError` if the name is taken or the password too short."""
        check_name(name)
        role = check_role(role)
        hashed = passwords.hash_password(passwords.check_policy(password))
        now = self._now_us()
        with self._write() as db:
            if db.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
                raise UserError(f"user {name!r} exists already; use passwd to change the password")
            db.execute("INSERT INTO users VALUES (?, ?, ?, ?, ?)", (name, role.value, hashed, now, now))
        return User(name, role, now, now)

    def get(self, name: str) -> User | None:
        with self._lock:
            row = self._db.execute("SELECT name, role, created_us, changed_us FROM users WHERE name = ?",
                                   (name,)).fetchone()
        return None if row is None else User(row[0], Role(row[1]), row[2], row[3])

    def users(self) -> list[User]:
        with self._lock:
            rows = self._db.execute("SELECT name, role, created_us, changed_us FROM users ORDER BY name").fetchall()
        return [User(r[0], Role(r[1]), r[2], r[3]) for r in rows]

    def set_password(self, name: str, password: str) -> User:
        """Change ``name``'s password and end every session and token it holds."""
        hashed = passwords.hash_password(passwords.check_policy(password))
        now = self._now_us()
        with self._write() as db:
            if not db.execute("UPDATE users SET password_hash = ?, changed_us = ? WHERE name = ?",
                              (hashed, now, name)).rowcount:
                raise UnknownUser(f"no user {name!r}")
            db.execute("DELETE FROM user_credentials WHERE user = ?", (name,))
        user = self.get(name)
        assert user is not None
        return user

    def set_role(self, name: str, role: str | Role) -> User:
        """Change ``name``'s role (it applies to the sessions it holds at once); the last admin stays one."""
        role = check_role(role)
        with self._write() as db:
            current = db.execute("SELECT role FROM users WHERE name = ?", (name,)).fetchone()
            if current is None:
                raise UnknownUser(f"no user {name!r}")
            if current[0] == Role.ADMIN and role is not Role.ADMIN:
                self._keep_an_admin(db, name)
            db.execute("UPDATE users SET role = ?, changed_us = ? WHERE name = ?", (role.value, self._now_us(), name))
        user = self.get(name)
        assert user is not None
        return user

    def remove(self, name: str) -> None:
        """Remove ``name`` and every session and token it holds; the last admin cannot be removed."""
        with self._write() as db:
            current = db.execute("SELECT role FROM users WHERE name = ?", (name,)).fetchone()
            if current is None:
                raise UnknownUser(f"no user {name!r}")
            if current[0] == Role.ADMIN:
                self._keep_an_admin(db, name)
            db.execute("DELETE FROM user_credentials WHERE user = ?", (name,))
            db.execute("DELETE FROM users WHERE name = ?", (name,))

    @staticmethod
    def _keep_an_admin(db: sqlite3.Connection, name: str) -> None:
        others = db.execute("SELECT COUNT(*) FROM users WHERE role = ? AND name != ?", (Role.ADMIN.value, name))
        if not others.fetchone()[0]:
            raise UserError(f"{name!r} is the last admin; make another user admin first")

    def verify(self, name: str, password: str) -> User | None:
        """The user if ``password`` is theirs, else ``None`` (as slow for an unknown name as for a known one)."""
        with self._lock:
            row = self._db.execute("SELECT password_hash FROM users WHERE name = ?", (name,)).fetchone()
        ok = passwords.verify_password(password, row[0] if row else passwords.DUMMY_HASH)
        if not ok or row is None:
            return None
        if passwords.needs_rehash(row[0]):
            hashed = passwords.hash_password(password)
            with self._write() as db:
                db.execute("UPDATE users SET password_hash = ? WHERE name = ? AND password_hash = ?",
                           (hashed, name, row[0]))
        return self.get(name)

    # -- sessions and tokens -------------------------------------------------------------------------
    def open_session(self, name: str) -> Issued:
        """A browser session for ``name`` (after a successful :meth:`verify`)."""
        return self._issue(name, Credential.SESSION, "browser", self.session_max_us, secrets.token_urlsafe(32))

    def issue_token(self, name: str, label: str, ttl_s: float) -> Issued:
        """An API token for ``name`` valid ``ttl_s`` seconds."""
        if not label or len(label) > 64:
            raise UserError("a token label is 1-64 characters")
        return self._issue(name, Credential.TOKEN, label, round(ttl_s * 1e6), TOKEN_PREFIX + secrets.token_urlsafe(32))

    def _issue(self, name: str, kind: Credential, label: str, ttl_us: int, secret: str) -> Issued:
        now = self._now_us()
        with self._write() as db:
            row = db.execute("SELECT role FROM users WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise UnknownUser(f"no user {name!r}")
            db.execute("INSERT INTO user_credentials VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (digest(secret), name, kind.value, label, now, now + ttl_us, now))
        return Issued(secret, digest(secret), name, Role(row[0]), kind, label, now + ttl_us)

    def authenticate(self, secret: str, kind: Credential) -> Principal | None:
        """The user holding the live session or token ``secret`` (of ``kind``), else ``None``.

        An expired session or token (or a session idle longer than allowed) is deleted on the way.
        """
        key = digest(secret)
        now = self._now_us()
        with self._lock:
            row = self._db.execute(
                "SELECT c.user, u.role, c.kind, c.expires_us, c.last_used_us FROM user_credentials c "
                "JOIN users u ON u.name = c.user WHERE c.digest = ?", (key,),
            ).fetchone()
            if row is None or row[2] != kind.value:
                return None
            user, role, _kind, expires_us, last_used_us = row
            idle = kind is Credential.SESSION and now - last_used_us > self.session_idle_us
            if now >= expires_us or idle:
                self._db.execute("DELETE FROM user_credentials WHERE digest = ?", (key,))
                return None
            if now - last_used_us > TOUCH_EVERY_US:
                self._db.execute("UPDATE user_credentials SET last_used_us = ? WHERE digest = ?", (now, key))
        return Principal(PrincipalKind.USER, user, Role(role), kind, key)

    def revoke(self, credential_digest: str) -> bool:
        """End one session or token (logout); whether it existed."""
        with self._write() as db:
            return bool(db.execute("DELETE FROM user_credentials WHERE digest = ?", (credential_digest,)).rowcount)

    def credentials(self, name: str) -> list[tuple[Credential, str, int]]:
        """(kind, label, expires_us) of each session and token ``name`` holds."""
        with self._lock:
            rows = self._db.execute("SELECT kind, label, expires_us FROM user_credentials WHERE user = ? "
                                    "ORDER BY created_us", (name,)).fetchall()
        return [(Credential(r[0]), r[1], r[2]) for r in rows]

    def prune(self) -> int:
        """Delete expired sessions and tokens; how many."""
        now = self._now_us()
        with self._write() as db:
            return db.execute(
                "DELETE FROM user_credentials WHERE expires_us <= ? OR (kind = ? AND last_used_us < ?)",
                (now, Credential.SESSION.value, now - self.session_idle_us),
            ).rowcount


def ensure_admin(path: Path | str) -> str | None:
    """First run: when the store at ``path`` has no user, create ``admin`` (role admin) with a generated
    password and return that password — once; it is stored only as a hash. ``None`` when users exist.

    Safe against two processes racing: the check and the insert are one transaction.
    """
    store = UserStore(path)
    try:
        password = passwords.generate()
        hashed = passwords.hash_password(password)
        now = store._now_us()
        with store._write() as db:
            if db.execute("SELECT COUNT(*) FROM users").fetchone()[0]:
                return None
            db.execute("INSERT INTO users VALUES (?, ?, ?, ?, ?)", (ADMIN, Role.ADMIN.value, hashed, now, now))
        return password
    finally:
        store.close()
