"""The mosquitto configuration docker-compose.yml ships (deploy/mosquitto/mosquitto.conf), run by a
real mosquitto with what `iomt security init --dynsec` generates (docker cannot run here): only
TLS, only enrolled identities within their ACLs, the registry drives it over dynamic security,
and it persists what it holds across a SIGKILL."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from gateway.registry.config import RegistryConfig, open_registry
from iomt.config import MqttConfig, TlsConfig, load_config
from iomt.transport import TransportError
from iomt.transport.bulk_mqtt import BulkMqttBus
from iomt.transport.mqtt import MqttBus
from iomt.wire import topics
from iomt_app.provision import Provisioned, SecurityPlan, provision
from tests.security.conftest import subscriber
from testsupport.services import DYNSEC_PLUGIN_PATHS, Mosquitto

SHIPPED = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto" / "mosquitto.conf"
COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


class ShippedMosquitto(Mosquitto):
    """mosquitto running the shipped file, its container paths and port mapped onto this machine."""

    def __init__(self, secrets: Path, workdir: Path) -> None:
        super().__init__(workdir=workdir)
        self.tls = object()  # type: ignore[assignment]  # its URL is mqtts://
        self.secrets = secrets

    def command(self, program: str) -> list[str]:
        text = SHIPPED.read_text()
        plugin = next(p for p in DYNSEC_PLUGIN_PATHS if Path(p).exists())
        text = text.replace("/usr/lib/mosquitto_dynamic_security.so", plugin)
        text = text.replace("/secrets/", f"{self.secrets}/").replace("/mosquitto/data/", f"{self.workdir}/data/")
        text = re.sub(r"^listener 8883 0\.0\.0\.0$", f"listener {self.port} {self.host}", text, flags=re.M)
        text = text.replace("log_dest stdout", "log_dest stderr")
        if os.geteuid() == 0:
            text += "user root\n"  # run as root, mosquitto would switch to a user that cannot read our temp dir
        (self.workdir / "data").mkdir(parents=True, exist_ok=True)
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(text)
        return [program, "-c", str(conf)]


def test_the_shipped_config_keeps_its_promises_textually() -> None:
    text = SHIPPED.read_text()
    for line in ("allow_anonymous false", "use_username_as_clientid true", "persistence true",
                 "autosave_interval 1", "certfile /secrets/broker/broker.crt",
                 "plugin_opt_config_file /secrets/broker/dynamic-security.json"):
        assert re.search(rf"^{re.escape(line)}$", text, re.M), line
    assert len(re.findall(r"^listener ", text, re.M)) == 1  # no second, plain listener
    compose = COMPOSE.read_text()
    assert "iomt security init" in compose and "--dynsec" in compose
    assert "allow_anonymous true" not in compose
    for published in re.findall(r'ports: \["([^"]+)"\]', compose):
        # only the authenticated TLS broker is published on every address
        assert published.startswith("127.0.0.1:") or published == "8883:8883", published


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ShippedMosquitto, Provisioned]]:
    root = tmp_path_factory.mktemp("compose")
    broker = ShippedMosquitto(root / "secrets", root / "mosquitto")
    plan = SecurityPlan(site="default", edges=("edge-1",), devices=("patient-0001", "patient-0002"),
                        broker_hosts=("localhost", "127.0.0.1"), broker_url=broker.url, dynsec=True)
    security = provision(root / "secrets", plan)
    broker.start()
    yield broker, security
    broker.stop()


def credentials(security: Provisioned, name: str, url: str) -> MqttConfig:
    username, password = security.mqtt_credentials(name)
    return MqttConfig(url=url, username=username, password=SecretStr(password), reconnect_max_s=1.0,
                      tls=TlsConfig(ca_file=security.ca_cert))


def test_tls_only_and_anonymous_refused(deployed: tuple[ShippedMosquitto, Provisioned]) -> None:
    broker, security = deployed
    with pytest.raises(TransportError, match=r"(?i)not authori[sz]ed"):
        MqttBus(MqttConfig(url=broker.url, tls=TlsConfig(ca_file=security.ca_cert)), "anon").start(timeout=10)
    with pytest.raises(TransportError):
        BulkMqttBus(MqttConfig(url=broker.url.replace("mqtts", "mqtt"), reconnect_max_s=1.0), "plain").start(timeout=3)


def test_the_generated_configs_connect_every_party(deployed: tuple[ShippedMosquitto, Provisioned]) -> None:
    """The edge, gateway and simulator config files init writes are what those processes load."""
    from edge.config import EdgeConfig
    from firmware_sim.config import SimConfig
    from gateway.config import GatewayConfig

    broker, security = deployed
    edge = load_config(EdgeConfig, "edge", path=security.edge_config("edge-1"))
    gateway = load_config(GatewayConfig, "gateway", path=security.gateway_config)
    sim = load_config(SimConfig, "sim", path=security.sim_config)
    assert edge.mqtt.url == broker.url and edge.mqtt.use_tls and gateway.mqtt is not None and sim.device_credentials
    got, gw_inbox = subscriber(gateway.mqtt, topics.availability_filter())  # type: ignore[arg-type]
    edge_bus = BulkMqttBus(edge.mqtt, "edge-1")
    try:
        edge_bus.publish(topics.availability("default", "edge-1"), b"online", retain=True)
        edge_bus.start(timeout=10)
        assert gw_inbox.wait_for(topics.availability("default", "edge-1"))
    finally:
        edge_bus.stop()
        got.stop()


def test_the_registry_drives_the_running_broker(deployed: tuple[ShippedMosquitto, Provisioned]) -> None:
    broker, security = deployed
    registry = open_registry(load_config(RegistryConfig, "registry", path=security.registry_config))
    assert registry.broker.description.startswith("mosquitto dynamic security")
    issued = registry.enrol("patient-0009", "device", "default")
    config = MqttConfig(url=broker.url, username="patient-0009", password=SecretStr(issued.password),
                        reconnect_max_s=1.0, tls=TlsConfig(ca_file=security.ca_cert))
    device = MqttBus(config, "patient-0009").start(timeout=10)
    try:
        registry.revoke("patient-0009")
        deadline = time.monotonic() + 5
        while device.connected and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not device.connected
    finally:
        device.stop()


def test_the_gateways_registry_api_drives_the_same_broker(deployed: tuple[ShippedMosquitto, Provisioned]) -> None:
    """The gateway's config names the registry with the same driver as `iomt devices`, so what its API
    (gateway/api/registry_routes.py, which opens exactly this) revokes is dropped by mosquitto at once."""
    from gateway.config import GatewayConfig

    broker, security = deployed
    gateway = load_config(GatewayConfig, "gateway", path=security.gateway_config)
    assert gateway.registry is not None and gateway.registry.broker == "dynsec"
    registry = open_registry(gateway.registry)
    issued = registry.enrol("patient-0010", "device", "default")
    config = MqttConfig(url=broker.url, username="patient-0010", password=SecretStr(issued.password),
                        reconnect_max_s=1.0, tls=TlsConfig(ca_file=security.ca_cert))
    device = MqttBus(config, "patient-0010").start(timeout=10)
    try:
        registry.revoke("patient-0010")
        deadline = time.monotonic() + 5
        while device.connected and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not device.connected
    finally:
        device.stop()


def test_what_it_holds_survives_a_sigkill(deployed: tuple[ShippedMosquitto, Provisioned]) -> None:
    """A persistent session's subscription and the QoS 1 messages queued for it while it is away
    are still there after kill -9 and a restart, once a save has passed (``autosave_interval 1``:
    mosquitto saves when more than one whole second has passed since the last save, so every 2 s)."""
    broker, security = deployed
    edge_config = credentials(security, "edge-1", broker.url)
    received: list[bytes] = []
    edge = BulkMqttBus(edge_config, "edge-1", clean_session=False, manual_ack=False)
    edge.subscribe(topics.data_filter("default"), lambda m: received.append(m.payload))
    edge.start(timeout=10)
    time.sleep(0.3)
    edge.stop()  # away: the broker queues for its session
    device = MqttBus(credentials(security, "patient-0001", broker.url), "patient-0001").start(timeout=10)
    for i in range(50):
        device.publish(topics.data("default", "patient-0001", "ecg"), str(i).encode()).wait(5)
    device.stop()
    time.sleep(4.0)  # a save (every 2 s), with a margin for a loaded machine
    broker.kill()
    broker.start()
    edge = BulkMqttBus(edge_config, "edge-1", clean_session=False)
    edge.subscribe(topics.data_filter("default"), lambda m: received.append(m.payload))
    edge.start(timeout=10)
    try:
        deadline = time.monotonic() + 10
        while len(received) < 50 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        edge.stop()
    assert sorted(int(p) for p in received) == list(range(50))
