"""Fixtures of the gateway tests: a real influxd for the session, and each store backend."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.store.base import Store
from gateway.store.influx import InfluxStore
from gateway.store.sqlite import SqliteStore
from testsupport.services import Influxd


@pytest.fixture(scope="session")
def influxd() -> Iterator[Influxd]:
    """A real InfluxDB 1.x server shared by the session; tests use their own database."""
    with Influxd() as server:
        yield server


@pytest.fixture(params=["sqlite", "influx"])
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[object]:
    """A callable opening (and reopening) one store of the parametrized backend."""
    opened: list[Store] = []
    database = f"t{uuid.uuid4().hex[:12]}"

    def open_store(**kwargs: object) -> Store:
        store: Store
        if request.param == "sqlite":
            store = SqliteStore(tmp_path / "store.sqlite", **kwargs)  # type: ignore[arg-type]
        else:
            server = request.getfixturevalue("influxd")
            store = InfluxStore(server.url, database=database, **kwargs)  # type: ignore[arg-type]
        opened.append(store)
        return store

    open_store.backend = request.param  # type: ignore[attr-defined]
    yield open_store
    for store in opened:
        store.close()


@pytest.fixture
def store(store_factory) -> Store:
    return store_factory()
