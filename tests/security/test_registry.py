"""The device registry on a real SQLite file: enrol, rotate, revoke, list; secrets only hashed
(mosquitto's own format) and never logged; uplink tokens; device keys wrapped under a master key;
the topic grants of each kind."""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from gateway.registry.acl import Access, Rule, filter_within, permits, rules_for
from gateway.registry.brokers import BrokerSyncError
from gateway.registry.dynsec import dynsec_document
from gateway.registry.hashing import PERSON_ITERATIONS, hash_secret, parse_hash, verify_secret
from gateway.registry.records import Kind, Principal, RegistryError, Status
from gateway.registry.service import DeviceRegistry
from gateway.registry.store import SqliteRegistry


@pytest.fixture
def registry(tmp_path: Path) -> DeviceRegistry:
    return DeviceRegistry(SqliteRegistry(tmp_path / "registry.sqlite", tmp_path / "registry.key"))


def test_enrol_issues_secrets_once_and_stores_only_hashes(registry: DeviceRegistry, tmp_path: Path) -> None:
    device = registry.enrol("patient-0001", "device", "ward-1")
    edge = registry.enrol("edge-1", Kind.EDGE, "ward-1")
    gateway = registry.enrol("gateway", "gateway", "+")
    assert device.device_key is not None and len(device.device_key.key) == 32 and device.uplink_token is None
    assert edge.uplink_token is not None and edge.uplink_token.startswith("edge-1.") and edge.device_key is None
    assert gateway.uplink_token is None and gateway.device_key is None
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("registry.sqlite*"))
    for secret in (device.password, edge.password, edge.uplink_token.split(".", 1)[1], gateway.password):
        assert secret.encode() not in raw
    assert device.device_key.key not in raw and device.device_key.key.hex().encode() not in raw
    for issued in (device, edge, gateway):  # a repr (a log line, a traceback) never shows a secret
        assert issued.password not in repr(issued)
    assert (tmp_path / "registry.key").stat().st_mode & 0o777 == 0o600


def test_authenticate_accepts_only_the_current_password_of_an_active_identity(registry: DeviceRegistry) -> None:
    first = registry.enrol("dev-1", "device", "s")
    assert registry.authenticate("dev-1", first.password) == first.principal
    assert registry.authenticate("dev-1", first.password + "x") is None
    assert registry.authenticate("dev-2", first.password) is None
    second = registry.rotate("dev-1")
    assert second.principal.generation == 2
    assert registry.authenticate("dev-1", first.password) is None
    assert registry.authenticate("dev-1", second.password) is not None
    registry.revoke("dev-1")
    assert registry.authenticate("dev-1", second.password) is None


def test_uplink_tokens_verify_for_active_edges_only(registry: DeviceRegistry) -> None:
    edge = registry.enrol("edge-1", "edge", "s")
    other = registry.enrol("edge-2", "edge", "s")
    device = registry.enrol("dev-1", "device", "s")
    assert edge.uplink_token and other.uplink_token
    principal = registry.verify_edge_token(edge.uplink_token)
    assert principal is not None and principal.name == "edge-1" and principal.kind is Kind.EDGE
    secret = edge.uplink_token.split(".", 1)[1]
    for forged in (f"edge-2.{secret}", secret, "", ".", f"dev-1.{secret}", f"dev-1.{device.password}",
                   edge.uplink_token + "x"):
        assert registry.verify_edge_token(forged) is None, forged
    rotated = registry.rotate("edge-1")
    assert registry.verify_edge_token(edge.uplink_token) is None
    assert rotated.uplink_token and registry.verify_edge_token(rotated.uplink_token) is not None
    registry.revoke("edge-1")
    assert registry.verify_edge_token(rotated.uplink_token) is None


def test_device_keys_are_retrievable_by_version_and_bound_to_their_device(registry: DeviceRegistry,
                                                                          tmp_path: Path) -> None:
    one = registry.enrol("dev-1", "device", "s")
    two = registry.enrol("dev-2", "device", "s")
    assert one.device_key and two.device_key
    assert registry.device_key("dev-1") == one.device_key
    newer = registry.rotate("dev-1", new_device_key=True).device_key
    assert newer is not None and newer.key_id == 2 and newer.key != one.device_key.key
    assert registry.device_key("dev-1") == newer
    assert registry.device_key("dev-1", 1) == one.device_key  # what was sealed before the rotation still opens
    with pytest.raises(RegistryError, match="no key 7"):
        registry.device_key("dev-1", 7)
    # a wrapped key moved onto another device's row does not open
    db = sqlite3.connect(tmp_path / "registry.sqlite")
    with db:
        wrapped = db.execute("SELECT wrapped FROM device_keys WHERE device = 'dev-1' AND key_id = 1").fetchone()[0]
        db.execute("UPDATE device_keys SET wrapped = ? WHERE device = 'dev-2'", (wrapped,))
    db.close()
    with pytest.raises(RegistryError, match="does not open"):
        registry.device_key("dev-2")
    # without the master key file, nothing opens
    with pytest.raises(RegistryError, match="without its key file"):
        SqliteRegistry(tmp_path / "registry.sqlite").device_key("dev-1")


def test_bad_names_sites_and_reuse_are_refused_with_the_reason(registry: DeviceRegistry) -> None:
    registry.enrol("dev-1", "device", "s")
    cases = [
        (("dev-1", "edge", "s"), "already enrolled"),
        (("_edge", "device", "s"), "invalid name"),
        (("a/b", "device", "s"), "invalid name"),
        (("dev+", "device", "s"), "invalid name"),
        (("dev-2", "device", "+"), "only a gateway"),
        (("dev-2", "device", "s/x"), "invalid site"),
    ]
    for args, message in cases:
        with pytest.raises(RegistryError, match=message):
            registry.enrol(*args)
    registry.revoke("dev-1")
    with pytest.raises(RegistryError, match="already enrolled"):
        registry.enrol("dev-1", "device", "s")
    with pytest.raises(RegistryError, match="revoked"):
        registry.rotate("dev-1")
    with pytest.raises(RegistryError, match="not enrolled"):
        registry.revoke("nobody")


def test_list_filters_and_revoke_is_idempotent(registry: DeviceRegistry) -> None:
    for name, kind, site in (("a", "device", "s1"), ("b", "device", "s2"), ("e", "edge", "s1"), ("g", "gateway", "+")):
        registry.enrol(name, kind, site)
    first = registry.revoke("a")
    again = registry.revoke("a")
    assert first.revoked_at == again.revoked_at and first.generation == again.generation
    assert [p.name for p in registry.list()] == ["a", "b", "e", "g"]
    assert [p.name for p in registry.list(include_revoked=False)] == ["b", "e", "g"]
    assert [p.name for p in registry.list("device")] == ["a", "b"]
    assert [p.name for p in registry.list(site="s1")] == ["a", "e"]
    assert registry.get("a") is not None and registry.get("a").status is Status.REVOKED  # type: ignore[union-attr]


def test_secrets_never_reach_the_log(registry: DeviceRegistry, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    issued = [registry.enrol("dev-1", "device", "s"), registry.enrol("edge-1", "edge", "s"),
              registry.rotate("dev-1", new_device_key=True), registry.rotate("edge-1")]
    registry.revoke("dev-1")
    text = caplog.text
    assert "enrolled device dev-1" in text  # the changes are logged ...
    for one in issued:  # ... their secrets are not
        assert one.password not in text
        assert one.uplink_token is None or one.uplink_token not in text
        assert one.device_key is None or one.device_key.key.hex() not in text


class FailingBroker:
    description = "a broker that is down"

    def __init__(self) -> None:
        self.revoked: list[str] = []

    def enrol(self, principal: Principal, password: str) -> None:
        raise BrokerSyncError("cannot enrol: the broker is down")

    def set_password(self, principal: Principal, password: str) -> None:
        raise BrokerSyncError("cannot rotate: the broker is down")

    def revoke(self, principal: Principal) -> None:
        self.revoked.append(principal.name)
        raise BrokerSyncError("the broker is down")


def test_a_broker_that_refuses_leaves_the_registry_consistent(tmp_path: Path) -> None:
    store = SqliteRegistry(tmp_path / "r.sqlite", tmp_path / "r.key")
    up = DeviceRegistry(store)
    old = up.enrol("dev-1", "device", "s")
    down = DeviceRegistry(store, FailingBroker())
    with pytest.raises(BrokerSyncError):
        down.enrol("dev-2", "device", "s")
    assert store.get("dev-2") is None  # nothing recorded that the broker does not know
    with pytest.raises(BrokerSyncError):
        down.rotate("dev-1")
    assert store.authenticate("dev-1", old.password) is not None  # the old password still rules both
    with pytest.raises(BrokerSyncError, match=r"revoked in the registry.*iomt devices sync"):
        down.revoke("dev-1")
    assert store.authenticate("dev-1", old.password) is None  # the revocation stands


def test_hashes_are_mosquittos_format() -> None:
    stored = hash_secret("s3cret")
    assert verify_secret("s3cret", stored) and not verify_secret("s3cret!", stored)
    assert parse_hash(stored)[0] == 101 and parse_hash(hash_secret("x", PERSON_ITERATIONS))[0] == PERSON_ITERATIONS
    assert not verify_secret("x", "not a hash") and not verify_secret("x", "$7$1$!!$!!")


@pytest.mark.skipif(shutil.which("mosquitto_passwd") is None, reason="mosquitto_passwd is not installed")
def test_a_hash_from_mosquitto_passwd_verifies(tmp_path: Path) -> None:
    path = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(path), "user", "their password"], check=True)
    stored = path.read_text().strip().split(":", 1)[1]
    assert verify_secret("their password", stored) and not verify_secret("another", stored)


def test_dynsec_document_carries_hashes_and_one_role_per_identity(registry: DeviceRegistry) -> None:
    registry.enrol("dev-1", "device", "s")
    registry.enrol("dev-2", "device", "s")
    registry.revoke("dev-2")
    doc = dynsec_document("admin", hash_secret("pw"), registry.store.password_hashes(include_revoked=True))
    text = json.dumps(doc)
    assert [c["username"] for c in doc["clients"]] == ["admin", "dev-1"]  # revoked identities are left out
    assert doc["defaultACLAccess"]["publishClientSend"] is False and doc["defaultACLAccess"]["subscribe"] is False
    assert "iomt/v1/s/dev-1/+" in text and "pw" not in text


# -- the topic grants -----------------------------------------------------------------------------------
def principal(kind: Kind, name: str = "x", site: str = "s1", status: Status = Status.ACTIVE) -> Principal:
    return Principal(name, kind, site, status, 0.0, 0.0)


def test_filter_within() -> None:
    assert filter_within("a/+/c", "a/+/c") and filter_within("a/b/c", "a/+/c") and filter_within("a/b/c", "a/#")
    assert filter_within("a/+/+", "a/#") and filter_within("a", "a/#")
    assert not filter_within("a/+/c", "a/b/c") and not filter_within("a/#", "a/+")
    assert not filter_within("#", "a/#") and not filter_within("a/b", "a/b/c") and not filter_within("a/b/c", "a/b")


@pytest.mark.parametrize(("kind", "access", "topic", "allowed"), [
    (Kind.DEVICE, Access.PUBLISH, "iomt/v1/s1/x/ecg", True),
    (Kind.DEVICE, Access.PUBLISH, "iomt/v1/s1/x/truth/beat", True),
    (Kind.DEVICE, Access.PUBLISH, "iomt/v1/s1/x/_descriptor", True),
    (Kind.DEVICE, Access.PUBLISH, "iomt/v1/s1/y/_descriptor", False),
    (Kind.EDGE, Access.PUBLISH, "iomt/v1/s1/x/_descriptor", False),
    (Kind.DEVICE, Access.PUBLISH, "iomt/v1/s1/y/ecg", False),
    (Kind.DEVICE, Access.PUBLISH, "iomt/v1/s2/x/ecg", False),
    (Kind.DEVICE, Access.PUBLISH, "iomt/v1/s1/x/events/ecg", False),
    (Kind.DEVICE, Access.PUBLISH, "iomt/v1/s1/_edge/e/availability", False),
    (Kind.DEVICE, Access.PUBLISH, "iomt/v1/s1/x/+", False),
    (Kind.DEVICE, Access.SUBSCRIBE, "iomt/v1/s1/x/ecg", False),
    (Kind.DEVICE, Access.SUBSCRIBE, "#", False),
    (Kind.EDGE, Access.PUBLISH, "iomt/v1/s1/dev/events/ecg", True),
    (Kind.EDGE, Access.PUBLISH, "iomt/v1/s1/_edge/x/availability", True),
    (Kind.EDGE, Access.PUBLISH, "iomt/v1/s1/_edge/other/availability", False),
    (Kind.EDGE, Access.PUBLISH, "iomt/v1/s1/_deadletter/x", True),
    (Kind.EDGE, Access.PUBLISH, "iomt/v1/s2/dev/events/ecg", False),
    (Kind.EDGE, Access.PUBLISH, "iomt/v1/s1/dev/ecg", False),
    (Kind.EDGE, Access.SUBSCRIBE, "iomt/v1/s1/+/+", True),
    (Kind.EDGE, Access.SUBSCRIBE, "iomt/v1/s2/+/+", False),
    (Kind.EDGE, Access.SUBSCRIBE, "iomt/v1/+/+/+", False),
    (Kind.EDGE, Access.SUBSCRIBE, "iomt/v1/s1/#", False),
    (Kind.GATEWAY, Access.SUBSCRIBE, "iomt/v1/s1/+/events/+", True),
    (Kind.GATEWAY, Access.SUBSCRIBE, "iomt/v1/s1/_deadletter/+", True),
    (Kind.GATEWAY, Access.SUBSCRIBE, "iomt/v1/s1/+/+", False),
    (Kind.GATEWAY, Access.PUBLISH, "iomt/v1/s1/_models/ecg", True),
    (Kind.GATEWAY, Access.PUBLISH, "iomt/v1/s1/x/events/ecg", False),
])
def test_grants(kind: Kind, access: Access, topic: str, allowed: bool) -> None:
    assert permits(rules_for(principal(kind)), access, topic) is allowed


def test_a_gateway_of_every_site_and_a_revoked_identity() -> None:
    every = rules_for(principal(Kind.GATEWAY, site="+"))
    assert permits(every, Access.SUBSCRIBE, "iomt/v1/+/_edge/+/availability")
    assert permits(every, Access.SUBSCRIBE, "iomt/v1/s9/_edge/+/availability")
    assert rules_for(principal(Kind.EDGE, status=Status.REVOKED)) == ()
    assert not permits((Rule(Access.SUBSCRIBE, "a/#"),), Access.PUBLISH, "a/b")


def test_every_change_reaches_the_audit_hook_with_its_actor(tmp_path: Path) -> None:
    seen: list[tuple[str, str, str]] = []
    registry = DeviceRegistry(SqliteRegistry(tmp_path / "r.sqlite", tmp_path / "r.key"),
                              on_change=lambda action, p, actor: seen.append((action, p.name, actor)))
    registry.enrol("dev-1", "device", "s", actor="admin")
    registry.rotate("dev-1")
    registry.revoke("dev-1", actor="cli:root")
    assert seen == [("device.enrol", "dev-1", "admin"), ("device.rotate", "dev-1", "system"),
                    ("device.revoke", "dev-1", "cli:root")]
