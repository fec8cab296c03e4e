"""The device registry's HTTP API against a running gateway with a real registry file (the broker
side is the embedded broker's: it reads the registry itself; mosquitto's dynamic security plugin is
driven in tests/security/test_registry_api_broker.py). Enrol, rotate and revoke answer what they
should, are audited under the admin's name without a secret, and act on the same registry the
uplink and ``iomt devices`` use."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gateway.auth import Role
from gateway.auth.context import AUDIT
from gateway.config import GatewayConfig
from gateway.registry.config import RegistryConfig
from gateway.registry.service import DeviceRegistry
from gateway.registry.store import SqliteRegistry
from gateway.server import RunningGateway, running_gateway
from iomt.config import MqttConfig
from iomt.wire.uplink import CONTENT_TYPE, NODE_HEADER
from tests.gateway.auth_helpers import Keys, bearer
from tests.gateway.helpers import ecg_frame, uplink_body

API = "/api/v1/registry/identities"


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[RunningGateway]:
    registry = RegistryConfig(path=tmp_path / "reg.sqlite")
    config = GatewayConfig(port=0, db_path=tmp_path / "gw.sqlite", registry=registry)
    async with running_gateway(config) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def call(http: aiohttp.ClientSession, gw: RunningGateway, method: str, path: str, headers: dict[str, str],
               body: Any = None) -> tuple[int, Any]:
    kwargs: dict[str, Any] = {} if body is None else {"json": body}
    async with http.request(method, f"{gw.url}{API}{path}", headers=headers, **kwargs) as r:
        return r.status, await r.json()


def secrets_of(answer: dict[str, Any]) -> list[str]:
    return [answer[k] for k in ("mqtt_password", "uplink_token", "device_key") if answer.get(k)]


async def uplink(http: aiohttp.ClientSession, gw: RunningGateway, token: str, node: str, seq: int) -> int:
    headers = {**bearer(token), "Content-Type": CONTENT_TYPE, NODE_HEADER: node}
    async with http.post(f"{gw.url}/api/v1/uplink", data=uplink_body(frames=[ecg_frame("p1", seq)]),
                         headers=headers) as r:
        return r.status


async def test_enrol_answers_credentials_once_and_lists_state_without_secrets(gw, http, tmp_path):
    admin = Keys(gw).role(Role.ADMIN)
    status, device = await call(http, gw, "POST", "", admin, {"name": "dev-1", "site": "ward-3"})
    assert status == 201, device
    assert (device["name"], device["kind"], device["site"], device["generation"]) == ("dev-1", "device", "ward-3", 1)
    assert device["mqtt_username"] == "dev-1" and len(device["mqtt_password"]) >= 20
    assert device["device_key_id"] == 1 and len(bytes.fromhex(device["device_key"])) == 32
    assert device["uplink_token"] is None

    status, edge = await call(http, gw, "POST", "", admin, {"name": "edge-9", "kind": "edge", "site": "ward-3"})
    assert status == 201 and edge["uplink_token"].startswith("edge-9.") and edge["device_key"] is None
    status, bare = await call(http, gw, "POST", "", admin, {"name": "dev-2", "site": "ward-4", "device_key": False})
    assert status == 201 and bare["device_key"] is None and bare["device_key_id"] is None

    # the registry `iomt devices` reads holds them, with the password the API answered
    registry = DeviceRegistry(SqliteRegistry(tmp_path / "reg.sqlite", tmp_path / "reg.key"))
    assert registry.authenticate("dev-1", device["mqtt_password"]) is not None
    assert registry.device_key("dev-1").key.hex() == device["device_key"]

    async with http.get(f"{gw.url}{API}", headers=admin) as r:
        assert r.status == 200 and r.headers["Cache-Control"] == "no-store"
        text = await r.text()
    listed = json.loads(text)["identities"]
    assert [(i["name"], i["kind"], i["site"], i["status"]) for i in listed] == [
        ("dev-1", "device", "ward-3", "active"), ("dev-2", "device", "ward-4", "active"),
        ("edge-9", "edge", "ward-3", "active")]
    assert set(listed[0]) == {"name", "kind", "site", "status", "generation", "created_at", "updated_at", "revoked_at"}
    for secret in secrets_of(device) + secrets_of(edge):
        assert secret not in text

    status, edges = await call(http, gw, "GET", "?kind=edge", admin)
    assert status == 200 and [i["name"] for i in edges["identities"]] == ["edge-9"]
    status, ward = await call(http, gw, "GET", "?site=ward-4", admin)
    assert [i["name"] for i in ward["identities"]] == ["dev-2"]
    status, one = await call(http, gw, "GET", "/dev-1", admin)
    assert status == 200 and one["status"] == "active" and "mqtt_password" not in one


async def test_rotate_and_revoke_act_at_once_on_the_uplink_that_shares_the_registry(gw, http):
    admin = Keys(gw).role(Role.ADMIN)
    _, edge = await call(http, gw, "POST", "", admin, {"name": "edge-7", "kind": "edge", "site": "s1"})
    assert await uplink(http, gw, edge["uplink_token"], "edge-7", 1) == 200

    status, rotated = await call(http, gw, "POST", "/edge-7/rotate", admin, {})
    assert status == 200 and rotated["generation"] == 2
    assert rotated["mqtt_password"] != edge["mqtt_password"] and rotated["uplink_token"] != edge["uplink_token"]
    assert await uplink(http, gw, edge["uplink_token"], "edge-7", 2) == 401
    assert await uplink(http, gw, rotated["uplink_token"], "edge-7", 3) == 200

    async with http.post(f"{gw.url}{API}/edge-7/revoke", headers={**admin, "Content-Type": "application/json"}) as r:
        status, revoked = r.status, await r.json()  # an empty body is fine too
    assert status == 200 and revoked["status"] == "revoked" and revoked["revoked_at"] is not None
    assert await uplink(http, gw, rotated["uplink_token"], "edge-7", 4) == 401
    status, again = await call(http, gw, "POST", "/edge-7/revoke", admin, {})
    assert status == 200 and again["revoked_at"] == revoked["revoked_at"]  # idempotent

    _, device = await call(http, gw, "POST", "", admin, {"name": "dev-k", "site": "s1"})
    status, new_key = await call(http, gw, "POST", "/dev-k/rotate", admin, {"new_device_key": True})
    assert status == 200 and new_key["device_key_id"] == 2 and new_key["device_key"] != device["device_key"]
    status, same_key = await call(http, gw, "POST", "/dev-k/rotate", admin, {})
    assert status == 200 and same_key["device_key"] is None and same_key["generation"] == 3


async def test_errors_name_what_is_wrong(gw, http):
    admin = Keys(gw).role(Role.ADMIN)
    await call(http, gw, "POST", "", admin, {"name": "dev-1", "site": "s1"})
    await call(http, gw, "POST", "", admin, {"name": "edge-1", "kind": "edge", "site": "s1"})

    status, error = await call(http, gw, "POST", "", admin, {"name": "dev-1", "kind": "edge", "site": "s2"})
    assert status == 409 and "'dev-1' is already enrolled (a device, active)" in error["error"]
    for method, path in (("GET", "/ghost"), ("POST", "/ghost/rotate"), ("POST", "/ghost/revoke")):
        status, error = await call(http, gw, method, path, admin, None if method == "GET" else {})
        assert status == 404 and "'ghost' is not enrolled" in error["error"], (method, path)

    bad: list[tuple[dict[str, Any], str]] = [
        ({"site": "s1"}, "name"),
        ({"name": "has space", "site": "s1"}, "name"),
        ({"name": "_hidden", "site": "s1"}, "name"),
        ({"name": "dev-x", "site": "s1", "kind": "toaster"}, "kind"),
        ({"name": "dev-x"}, "site"),
        ({"name": "dev-x", "site": "+"}, "site"),  # only a gateway follows every site
        ({"name": "dev-x", "site": "s/1"}, "site"),
        ({"name": "dev-x", "site": "s1", "device_key": "yes"}, "device_key"),
        ({"name": "dev-x", "site": "s1", "password": "mine"}, "password"),
    ]
    for body, field in bad:
        status, error = await call(http, gw, "POST", "", admin, body)
        assert status == 400 and error["error"].startswith(f"{field}:"), (body, error)
    status, error = await call(http, gw, "POST", "", admin, ["dev-x"])
    assert status == 400 and error["error"].startswith("body:")
    status, error = await call(http, gw, "GET", "?kind=toaster", admin)
    assert status == 400 and error["error"].startswith("kind:")

    # an edge has no device key: refused before anything changes
    status, error = await call(http, gw, "POST", "/edge-1/rotate", admin, {"new_device_key": True})
    assert status == 400 and error["error"].startswith("new_device_key:") and "only devices have keys" in error["error"]
    _, edge = await call(http, gw, "GET", "/edge-1", admin)
    assert edge["generation"] == 1

    await call(http, gw, "POST", "/dev-1/revoke", admin, {})
    status, error = await call(http, gw, "POST", "/dev-1/rotate", admin, {})
    assert status == 409 and "revoked" in error["error"]
    status, error = await call(http, gw, "POST", "", admin, {"name": "dev-1", "site": "s1"})
    assert status == 409 and "never reused" in error["error"]
    assert len((await call(http, gw, "GET", "", admin))[1]["identities"]) == 2  # nothing half-made

    async with http.post(f"{gw.url}{API}", data='{"name": "dev-y", "site": "s1"}',
                         headers={**admin, "Content-Type": "text/plain"}) as r:
        assert r.status == 415
    status, _ = await call(http, gw, "POST", "", Keys(gw).role(Role.CLINICIAN), {"name": "dev-z", "site": "s1"})
    assert status == 403
    assert [i["name"] for i in (await call(http, gw, "GET", "", admin))[1]["identities"]] == ["dev-1", "edge-1"]


async def test_every_change_is_audited_under_the_admin_without_a_secret(gw, http, caplog):
    admin = Keys(gw).role(Role.ADMIN)
    caplog.set_level(logging.DEBUG)
    _, device = await call(http, gw, "POST", "", admin, {"name": "dev-a", "site": "s1"})
    _, edge = await call(http, gw, "POST", "", admin, {"name": "edge-a", "kind": "edge", "site": "s1"})
    _, rotated = await call(http, gw, "POST", "/edge-a/rotate", admin, {})
    await call(http, gw, "POST", "/dev-a/revoke", admin, {})

    entries = gw.app[AUDIT].entries(0, 1000)
    changes = [(e.actor, e.action, e.target, e.detail) for e in entries if e.action.startswith("device.")]
    assert changes == [
        ("user:admin-user", "device.enrol", "dev-a", {"kind": "device", "site": "s1"}),
        ("user:admin-user", "device.enrol", "edge-a", {"kind": "edge", "site": "s1"}),
        ("user:admin-user", "device.rotate", "edge-a", {"kind": "edge", "site": "s1"}),
        ("user:admin-user", "device.revoke", "dev-a", {"kind": "device", "site": "s1"}),
    ]
    assert gw.app[AUDIT].verify().ok
    everything = json.dumps([[e.actor, e.action, e.target, e.detail] for e in entries]) + caplog.text
    for secret in secrets_of(device) + secrets_of(edge) + secrets_of(rotated):
        assert secret not in everything


async def test_without_a_registry_the_answer_says_what_to_configure(tmp_path, http):
    async with running_gateway(GatewayConfig(port=0, db_path=tmp_path / "gw.sqlite")) as gw:
        admin = Keys(gw).role(Role.ADMIN)
        status, error = await call(http, gw, "GET", "", admin)
        assert status == 503 and "[gateway.registry]" in error["error"]
        assert "IOMT_GATEWAY__REGISTRY__PATH" in error["error"]
        status, error = await call(http, gw, "POST", "", admin, {"name": "dev-1", "site": "s1"})
        assert status == 503 and "not configured" in error["error"]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_an_unreachable_broker_is_503_without_its_address_and_says_what_stands(tmp_path, http):
    port = _closed_port()
    dynsec = MqttConfig(url=f"mqtt://127.0.0.1:{port}", username="iomt-registry", password="admin-pass")  # type: ignore[arg-type]
    registry = RegistryConfig(path=tmp_path / "reg.sqlite", broker="dynsec", dynsec=dynsec, timeout_s=1.0)
    # enrolled earlier, while the broker was up (no broker driver: straight into the same file)
    DeviceRegistry(SqliteRegistry(tmp_path / "reg.sqlite", tmp_path / "reg.key")).enrol("dev-old", "device", "s1")
    async with running_gateway(GatewayConfig(port=0, db_path=tmp_path / "gw.sqlite", registry=registry)) as gw:
        admin = Keys(gw).role(Role.ADMIN)
        status, error = await call(http, gw, "POST", "", admin, {"name": "dev-new", "site": "s1"})
        assert status == 503 and "nothing was changed" in error["error"] and str(port) not in error["error"]
        assert (await call(http, gw, "GET", "/dev-new", admin))[0] == 404

        status, error = await call(http, gw, "POST", "/dev-old/rotate", admin, {})
        assert status == 503 and "nothing was changed" in error["error"]
        assert (await call(http, gw, "GET", "/dev-old", admin))[1]["generation"] == 1

        status, error = await call(http, gw, "POST", "/dev-old/revoke", admin, {})
        assert status == 503 and "iomt devices sync" in error["error"] and str(port) not in error["error"]
        assert (await call(http, gw, "GET", "/dev-old", admin))[1]["status"] == "revoked"  # it stands


async def test_the_openapi_document_describes_the_registry_routes(gw, http):
    async with http.get(f"{gw.url}/api/v1/openapi.json") as r:
        doc = await r.json()
    paths = doc["paths"]
    operations = [(API, "get"), (API, "post"), (f"{API}/{{name}}", "get"), (f"{API}/{{name}}/rotate", "post"),
                  (f"{API}/{{name}}/revoke", "post")]
    for path, method in operations:
        operation = paths[path][method]
        assert operation["x-iomt-access"] == "admin", (path, method)
        assert {"401", "403", "503"} <= set(operation["responses"]), (path, method)
    assert paths[API]["post"]["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/IssuedCredentials"}
    schemas = doc["components"]["schemas"]
    assert {"mqtt_password", "uplink_token", "device_key"} <= set(schemas["IssuedCredentials"]["properties"])
    assert not {"mqtt_password", "uplink_token", "device_key"} & set(schemas["RegistryEntry"]["properties"])
    assert schemas["RegistryEntry"]["properties"]["kind"] == {"$ref": "#/components/schemas/Kind"}
