"""One write transaction on a SQLite connection: the gateway's files (store, audit, users, images, station,
registry) write in ``BEGIN IMMEDIATE`` transactions, most of them on one connection shared behind a lock."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext


@contextmanager
def immediate(db: sqlite3.Connection, lock: threading.Lock | None = None) -> Iterator[sqlite3.Connection]:
    """Hold ``lock`` (when the connection is shared), begin an immediate transaction on ``db`` (autocommit
    connection), commit when the block ends, roll back and re-raise when it raises."""
    guard: AbstractContextManager[object] = lock if lock is not None else nullcontext()
    with guard:
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
