"""Secured brokers for the security suite: a real mosquitto with the dynamic security plugin and the
embedded broker (amqtt) with the registry plugin, each on a free port in a temp dir, each with a
device registry that drives it. One suite runs against both (as the store contract suite does)."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from gateway.registry.dynsec import DynsecDriver, dynsec_document
from gateway.registry.hashing import hash_secret, new_secret
from gateway.registry.service import DeviceRegistry
from gateway.registry.store import SqliteRegistry
from iomt.config import MqttConfig
from iomt.transport import ReceivedMessage
from iomt.transport.mqtt import MqttBus
from testsupport.services import ManagedProcess, Mosquitto

ADMIN = "iomt-registry"


class EmbeddedBroker(ManagedProcess):
    """``iomt broker`` (amqtt) authenticating against ``registry``."""

    name = "embedded-broker"
    program = sys.executable
    start_timeout_s = 30.0

    def __init__(self, registry: Path, *, workdir: Path, tls: tuple[Path, Path] | None = None) -> None:
        super().__init__(workdir=workdir)
        self.registry = registry
        self.tls = tls

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"

    def command(self, program: str) -> list[str]:
        cmd = [program, "-m", "iomt_app", "--log-level", "INFO", "broker", "--host", self.host, "--port",
               str(self.port), "--registry", str(self.registry)]
        if self.tls:
            cmd += ["--tls-cert", str(self.tls[0]), "--tls-key", str(self.tls[1])]
        return cmd


@dataclass
class SecuredBroker:
    kind: str
    url: str
    registry: DeviceRegistry
    process: ManagedProcess

    def config(self, username: str | None = None, password: str | None = None, **extra: object) -> MqttConfig:
        return MqttConfig(url=self.url, username=username, password=password, reconnect_max_s=1.0,  # type: ignore[arg-type]
                          **extra)  # type: ignore[arg-type]


def start_secured(kind: str, root: Path) -> SecuredBroker:
    root.mkdir(parents=True, exist_ok=True)
    store = SqliteRegistry(root / "registry.sqlite", root / "registry.key")
    if kind == "mosquitto":
        admin_password = new_secret()
        dynsec = root / "dynamic-security.json"
        dynsec.write_text(json.dumps(dynsec_document(ADMIN, hash_secret(admin_password), [])))
        broker: ManagedProcess = Mosquitto(workdir=root / "mosquitto", dynsec_file=dynsec).start()
        url = broker.url  # type: ignore[attr-defined]
        driver = DynsecDriver(MqttConfig(url=url, username=ADMIN, password=admin_password))  # type: ignore[arg-type]
        return SecuredBroker(kind, url, DeviceRegistry(store, driver), broker)
    broker = EmbeddedBroker(root / "registry.sqlite", workdir=root / "embedded").start()
    return SecuredBroker(kind, broker.url, DeviceRegistry(store), broker)  # type: ignore[attr-defined]


@pytest.fixture(scope="module", params=["mosquitto", "embedded"])
def secured(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredBroker]:
    broker = start_secured(request.param, tmp_path_factory.mktemp(f"secured-{request.param}"))
    try:
        yield broker
    finally:
        broker.process.stop()


@dataclass
class Inbox:
    """Messages received by one subscriber, by topic."""

    messages: list[ReceivedMessage] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, message: ReceivedMessage) -> None:
        with self.lock:
            self.messages.append(message)

    def topics(self) -> set[str]:
        with self.lock:
            return {m.topic for m in self.messages}

    def wait_for(self, topic: str, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if topic in self.topics():
                return True
            time.sleep(0.02)
        return False


def subscriber(config: MqttConfig, *filters: str) -> tuple[MqttBus, Inbox]:
    inbox = Inbox()
    bus = MqttBus(config, f"observer-{time.monotonic_ns()}")
    for topic_filter in filters:
        bus.subscribe(topic_filter, inbox)
    bus.start()
    time.sleep(0.3)  # the SUBACK
    return bus, inbox
