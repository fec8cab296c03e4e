"""TLS at the broker, with both clients, against a real mosquitto: the broker's certificate is
verified (wrong CA, expired, wrong host refused, each with the reason named), a plain client gets
nowhere on a TLS port, and with mutual TLS a client certificate that is expired, signed by another
CA or revoked (CRL) is refused; the embedded broker's TLS listener likewise."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import SecretStr

from gateway.registry import pki
from gateway.registry.service import DeviceRegistry
from gateway.registry.store import SqliteRegistry
from iomt.config import MqttConfig, TlsConfig
from iomt.transport import TransportError
from iomt.transport.bulk_mqtt import BulkMqttBus
from iomt.transport.mqtt import MqttBus
from tests.security.conftest import EmbeddedBroker
from testsupport.services import BrokerTls, Mosquitto

CLIENTS = [MqttBus, BulkMqttBus]
LONG_AGO = dt.datetime.now(dt.UTC) - dt.timedelta(days=400)


@dataclass
class Pki:
    dir: Path
    ca: Path
    other_ca: Path

    def pair(self, name: str) -> tuple[Path, Path]:
        return self.dir / f"{name}.crt", self.dir / f"{name}.key"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    root = tmp_path_factory.mktemp("pki")
    ca, other = pki.create_ca("test CA"), pki.create_ca("somebody else's CA")
    ca.write(root / "ca.crt", root / "ca.key")
    other.write(root / "other-ca.crt", root / "other-ca.key")
    local = ["127.0.0.1", "localhost"]
    pki.issue(ca, "broker", server_names=local).write(*Pki(root, root, root).pair("server"))
    pki.issue(ca, "broker", server_names=local, not_before=LONG_AGO, days=30).write(root / "expired.crt",
                                                                                     root / "expired.key")
    pki.issue(ca, "broker", server_names=["broker.elsewhere.example"]).write(root / "wronghost.crt",
                                                                             root / "wronghost.key")
    pki.issue(ca, "dev-t", client=True).write(root / "client.crt", root / "client.key")
    pki.issue(ca, "dev-old", client=True, not_before=LONG_AGO, days=30).write(root / "client-expired.crt",
                                                                               root / "client-expired.key")
    pki.issue(other, "dev-t", client=True).write(root / "client-other.crt", root / "client-other.key")
    revoked = pki.issue(ca, "dev-revoked", client=True)
    revoked.write(root / "client-revoked.crt", root / "client-revoked.key")
    (root / "crl.pem").write_bytes(pki.revocation_list(ca, [revoked.cert]))
    return Pki(root, root / "ca.crt", root / "other-ca.crt")


def tls_broker(tmp: Path, certs: Pki, server: str, **extra: object) -> Mosquitto:
    cert, key = certs.pair(server)
    return Mosquitto(workdir=tmp, tls=BrokerTls(cert, key, **extra))  # type: ignore[arg-type]


def config(url: str, ca: Path, client: tuple[Path, Path] | None = None) -> MqttConfig:
    cert, key = client if client else (None, None)
    return MqttConfig(url=url, reconnect_max_s=1.0, tls=TlsConfig(ca_file=ca, cert_file=cert, key_file=key))


@pytest.fixture(scope="module")
def server_tls(certs: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Mosquitto]]:
    brokers = {name: tls_broker(tmp_path_factory.mktemp(name), certs, name).start()
               for name in ("server", "expired", "wronghost")}
    yield brokers
    for broker in brokers.values():
        broker.stop()


@pytest.mark.parametrize("client", CLIENTS)
def test_the_right_ca_connects(server_tls: dict[str, Mosquitto], certs: Pki, client: type) -> None:
    bus = client(config(server_tls["server"].url, certs.ca), "tls-ok").start(timeout=10)
    bus.stop()


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize(("broker", "ca", "reason"), [
    ("server", "other_ca", r"certificate verify failed.*(unable to get local issuer|self.signed)"),
    ("expired", "ca", r"certificate verify failed.*certificate has expired"),
    ("wronghost", "ca", r"certificate verify failed.*(mismatch|match target host)"),
])
def test_a_broker_certificate_that_does_not_verify_is_refused(
    server_tls: dict[str, Mosquitto], certs: Pki, client: type, broker: str, ca: str, reason: str
) -> None:
    with pytest.raises(TransportError, match=rf"(?i)TLS with the MQTT broker .* failed: {reason}.*mqtt\.tls\.ca_file"):
        client(config(server_tls[broker].url, getattr(certs, ca)), "tls-bad").start(timeout=10)


@pytest.mark.parametrize("client", CLIENTS)
def test_a_plain_client_gets_nowhere_on_the_tls_port(server_tls: dict[str, Mosquitto], client: type) -> None:
    plain = server_tls["server"].url.replace("mqtts://", "mqtt://")
    with pytest.raises(TransportError):
        client(MqttConfig(url=plain, reconnect_max_s=1.0), "plain").start(timeout=3)


@pytest.fixture(scope="module")
def mutual_tls(certs: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    broker = tls_broker(tmp_path_factory.mktemp("mtls"), certs, "server", ca_file=certs.ca, require_certificate=True,
                        crl_file=certs.dir / "crl.pem", use_identity_as_username=True).start()
    yield broker
    broker.stop()


@pytest.mark.parametrize("client", CLIENTS)
def test_mutual_tls_accepts_a_certificate_of_its_ca(mutual_tls: Mosquitto, certs: Pki, client: type) -> None:
    client(config(mutual_tls.url, certs.ca, certs.pair("client")), "dev-t").start(timeout=10).stop()


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("cert", ["client-expired", "client-other", "client-revoked", None])
def test_mutual_tls_refuses_expired_foreign_revoked_and_missing_certificates(
    mutual_tls: Mosquitto, certs: Pki, client: type, cert: str | None
) -> None:
    pair = certs.pair(cert) if cert else None
    with pytest.raises(TransportError, match=r"(?i)TLS with the MQTT broker .* failed: .*client certificate"):
        # mosquitto ends the handshake (TLS 1.3: just after it) with an alert naming why, or a bare EOF
        client(config(mutual_tls.url, certs.ca, pair), f"mtls-{cert}").start(timeout=10)


@pytest.mark.parametrize("client", CLIENTS)
def test_the_embedded_brokers_tls_listener(certs: Pki, tmp_path: Path, client: type) -> None:
    registry = DeviceRegistry(SqliteRegistry(tmp_path / "registry.sqlite", tmp_path / "registry.key"))
    device = registry.enrol("dev-t", "device", "s1")
    with EmbeddedBroker(tmp_path / "registry.sqlite", workdir=tmp_path / "b", tls=certs.pair("server")) as broker:
        good = config(broker.url, certs.ca).model_copy(
            update={"username": "dev-t", "password": SecretStr(device.password)})
        client(good, "dev-t").start(timeout=10).stop()
        with pytest.raises(TransportError, match=r"(?i)certificate verify failed"):
            client(good.model_copy(update={"tls": TlsConfig(ca_file=certs.other_ca)}), "dev-t").start(timeout=10)
