"""`iomt devices` and `iomt security init` from the command line, and first-run provisioning
(idempotent, owner-only files, what each process loads)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from edge.config import EdgeConfig
from firmware_sim.config import SimConfig
from firmware_sim.scenario import build_devices, default_scenario, device_ids
from gateway.auth import Role, UserStore
from gateway.config import GatewayConfig
from gateway.registry.config import RegistryConfig, open_registry
from gateway.registry.records import RegistryError
from gateway.registry.store import SqliteRegistry
from iomt.config import load_config
from iomt_app.cli import main
from iomt_app.provision import SecurityPlan, provision


def test_enrol_list_rotate_revoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    registry = ["--registry", str(tmp_path / "r.sqlite")]
    assert main(["devices", "enrol", "patient-7", "--site", "ward", *registry]) == 0
    out = capsys.readouterr().out
    assert "enrolled device patient-7 (site ward)" in out and "mqtt_password: " in out and "device_key: " in out
    password = out.split("mqtt_password: ")[1].split()[0]
    store = SqliteRegistry(tmp_path / "r.sqlite")
    assert store.authenticate("patient-7", password) is not None
    secrets_file = tmp_path / "edge.json"
    assert main(["devices", "enrol", "edge-9", "--kind", "edge", "--site", "ward", "--out", str(secrets_file),
                 *registry]) == 0
    assert "secrets written to" in capsys.readouterr().out
    written = json.loads(secrets_file.read_text())
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    assert store.verify_edge_token(written["uplink_token"]) is not None
    assert main(["devices", "list", "--json", *registry]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [p["name"] for p in listed] == ["edge-9", "patient-7"] and all("password" not in str(p) for p in listed)
    assert main(["devices", "rotate", "patient-7", *registry]) == 0
    assert store.authenticate("patient-7", password) is None
    capsys.readouterr()
    assert main(["devices", "revoke", "patient-7", *registry]) == 0
    assert "revoked device patient-7" in capsys.readouterr().out
    assert main(["devices", "list", "--active", *registry]) == 0
    table = capsys.readouterr().out
    assert "edge-9" in table and "patient-7" not in table
    assert main(["devices", "enrol", "patient-7", "--site", "ward", *registry]) == 2
    assert "already enrolled" in capsys.readouterr().err
    assert stat.S_IMODE((tmp_path / "r.key").stat().st_mode) == 0o600  # device keys' master key, beside the file


def test_the_registry_config_names_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match=r"registry\.dynsec"):
        open_registry(RegistryConfig(path=tmp_path / "r.sqlite", broker="dynsec"))


def test_security_init_is_idempotent_and_owner_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "secrets"
    args = ["security", "init", "--dir", str(root), "--edge", "edge-1", "--patients", "3", "--dynsec",
            "--broker-url", "mqtts://mosquitto:8883", "--broker-host", "mosquitto"]
    assert main(args) == 0
    first = capsys.readouterr().out
    # the gateway, the edge, 3 patients and the default mix's imaging device
    assert "6 identities enrolled" in first and "admin password (shown once" in first
    password = first.split("): ")[1].split()[0]
    users = UserStore(root / "users" / "state.sqlite")
    try:
        admin = users.verify("admin", password)
    finally:
        users.close()
    assert admin is not None and admin.role is Role.ADMIN
    assert password.encode() not in (root / "users" / "state.sqlite").read_bytes()
    issued_before = (root / "credentials" / "issued.json").read_text()
    assert main(args) == 0
    second = capsys.readouterr().out
    assert "0 identities enrolled" in second and "admin password" not in second
    assert (root / "credentials" / "issued.json").read_text() == issued_before
    for path in root.rglob("*"):
        if path.is_file() and path.suffix in (".key", ".toml", ".json", ".sqlite", ".uplink-token"):
            assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path


def test_provisioned_config_files_load_as_each_tiers_config(tmp_path: Path) -> None:
    plan = SecurityPlan(site="ward", edges=("edge-1",), devices=("patient-0001",), broker_url="mqtts://b:8883")
    done = provision(tmp_path, plan)
    edge = load_config(EdgeConfig, "edge", path=done.edge_config("edge-1"))
    assert (edge.node_id, edge.site, edge.mqtt.username, edge.mqtt.url) == ("edge-1", "ward", "edge-1", "mqtts://b:8883")
    assert edge.mqtt.tls.ca_file == done.ca_cert
    assert edge.uplink_token_file == done.edge_token("edge-1")  # it also fetches device keys with it
    gateway = load_config(GatewayConfig, "gateway", path=done.gateway_config)
    assert gateway.mqtt is not None and gateway.mqtt.username == "gateway" and gateway.site == "+"
    assert gateway.state_file() == done.user_state and gateway.registry is not None
    assert gateway.tls is not None and gateway.tls.cert_file == done.gateway_cert
    assert edge.uplink_secret() == done.edge_token("edge-1").read_text().strip()
    assert edge.gateway_ca_file == done.ca_cert
    assert gateway.registry.path == done.registry and gateway.registry.key_file == done.registry_key  # sealed images
    sim = load_config(SimConfig, "sim", path=done.sim_config)
    assert sim.device_credentials == done.devices_file and sim.site == "ward"
    devices = json.loads(done.devices_file.read_text())["devices"]
    registry = SqliteRegistry(done.registry, done.registry_key)
    assert registry.authenticate("patient-0001", devices["patient-0001"]["password"]) is not None
    assert registry.device_key("patient-0001").key.hex() == devices["patient-0001"]["key"]
    token = done.edge_token("edge-1").read_text().strip()
    assert registry.verify_edge_token(token) is not None
    from gateway.auth.registry_edges import RegistryEdges

    edges = RegistryEdges(open_registry(gateway.registry))
    assert edges.edge_for_token(token) == "edge-1"
    assert edges.edge_for_token(token + "x") is None
    assert edges.edge_for_token(f"patient-0001.{token.partition('.')[2]}") is None


def test_enrolments_by_provisioning_and_by_the_command_are_in_the_audit_log(tmp_path: Path) -> None:
    from gateway.audit import AuditLog

    done = provision(tmp_path / "s", SecurityPlan(site="ward", edges=("edge-1",), devices=("patient-0001",)))
    config = ["--config", str(done.registry_config)]
    out = ["--out", str(tmp_path / "p2.json")]
    assert main(["devices", "enrol", "patient-0002", "--site", "ward", *out, *config]) == 0
    assert main(["devices", "revoke", "patient-0001", *config]) == 0
    audit = AuditLog(done.audit_log)
    try:
        entries = [(e.actor, e.action, e.target) for e in audit.entries()]
        assert audit.verify().ok
    finally:
        audit.close()
    assert ("system", "device.enrol", "edge-1") in entries and ("system", "user.add", "user:admin") in entries
    assert (_cli_actor(), "device.enrol", "patient-0002") in entries
    assert entries[-1][1:] == ("device.revoke", "patient-0001")
    secrets_ = json.loads((tmp_path / "p2.json").read_text())
    assert secrets_["mqtt_password"] not in done.audit_log.read_bytes().decode(errors="replace")


def _cli_actor() -> str:
    from iomt_app.commands.devices import _actor

    return _actor()


def test_a_revoked_identity_is_not_reinstated_by_provisioning(tmp_path: Path) -> None:
    plan = SecurityPlan(site="ward", edges=(), devices=("patient-0001",))
    done = provision(tmp_path, plan)
    SqliteRegistry(done.registry).revoke("patient-0001")
    with pytest.raises(RegistryError, match="revoked"):
        provision(tmp_path, plan)


def test_device_ids_are_the_ids_the_fleet_builds() -> None:
    scenario = default_scenario(7, site="x")
    assert device_ids(scenario) == list(dict.fromkeys(d.device_id for d in build_devices(scenario)))


def test_the_embedded_broker_will_not_serve_anonymously_beyond_loopback() -> None:
    from iomt_app.brokers.embedded import BrokerSecurity, InsecureBrokerError, broker_config

    with pytest.raises(InsecureBrokerError, match="registry"):
        broker_config("127.0.0.1", 1883)
    with pytest.raises(InsecureBrokerError, match="anonymous"):
        broker_config("0.0.0.0", 1883, BrokerSecurity(allow_anonymous=True))
    assert broker_config("127.0.0.1", 1883, BrokerSecurity(allow_anonymous=True))["plugins"]


def test_device_credentials_files_are_checked_with_the_reason(tmp_path: Path) -> None:
    from firmware_sim.device_links import CredentialsError, DeviceLinks, load_device_credentials
    from iomt.config import MqttConfig

    path = tmp_path / "devices.json"
    for text, message in (("{", "not JSON"), ("[]", '"devices" object'),
                          ('{"devices": {"d": {"username": "d"}}}', "'d' needs a string")):
        path.write_text(text)
        with pytest.raises(CredentialsError, match=message):
            load_device_credentials(path)
    with pytest.raises(CredentialsError, match="cannot read"):
        load_device_credentials(tmp_path / "missing.json")
    path.write_text('{"devices": {"a": {"username": "a", "password": "p"}}}')
    with pytest.raises(CredentialsError, match=r"no credentials for device.*b, c"):
        DeviceLinks(MqttConfig(), load_device_credentials(path), ["a", "b", "c"])
