"""One write transaction on a shared SQLite connection: the gateway's state files (users, images,
station) each hold one connection behind a lock and write in ``BEGIN IMMEDIATE`` transactions."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def immediate(db: sqlite3.Connection, lock: threading.Lock) -> Iterator[sqlite3.Connection]:
    """Hold ``lock``, begin an immediate transaction on ``db`` (autocommit connection), commit when the
    block ends, roll back and re-raise when it raises."""
    with lock:
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
