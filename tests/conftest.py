"""Shared fixtures: real brokers and a real gateway on free ports, and a guard against swallowed errors."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from iomt.config import MqttConfig
from testsupport.services import Mosquitto

#: Loggers whose swallowed exceptions fail a test (the project's own packages).
OUR_PACKAGES = ("iomt", "iomt_app", "edge", "gateway", "firmware_sim", "cloud", "benchmarks", "testsupport")


class _ErrorCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.name.split(".")[0] in OUR_PACKAGES:
            self.records.append(record)


@pytest.fixture(autouse=True)
def fail_on_logged_exceptions(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test whose code caught an exception and only logged it (e.g. in an MQTT callback).

    Tests that provoke such errors on purpose mark themselves ``allow_logged_errors``.
    """
    collector = _ErrorCollector()
    root = logging.getLogger()
    root.addHandler(collector)
    yield
    root.removeHandler(collector)
    if collector.records and request.node.get_closest_marker("allow_logged_errors") is None:
        first = collector.records[0]
        pytest.fail(f"an exception was logged and swallowed: {first.name}: {first.getMessage()}")


@pytest.fixture(scope="session")
def mosquitto() -> Iterator[Mosquitto]:
    """A real mosquitto shared by the session (tests use unique topics or sites)."""
    with Mosquitto() as broker:
        yield broker


@pytest.fixture
def own_mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    """A mosquitto for one test, which it may kill and restart."""
    broker = Mosquitto(workdir=tmp_path / "mosquitto")
    broker.workdir.mkdir()
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def mqtt_config(mosquitto: Mosquitto) -> MqttConfig:
    return MqttConfig(url=mosquitto.url, reconnect_max_s=1.0)


@pytest.fixture
async def gateway(tmp_path: Path, mosquitto: Mosquitto) -> AsyncIterator[object]:
    """A running gateway (port 0) on a fresh SQLite store, following the session's broker."""
    from gateway.config import GatewayConfig
    from gateway.server import running_gateway

    config = GatewayConfig(port=0, db_path=tmp_path / "gateway.sqlite", mqtt=MqttConfig(url=mosquitto.url))
    async with running_gateway(config) as running:
        yield running
