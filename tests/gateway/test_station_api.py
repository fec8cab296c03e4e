"""The station's API against a running gateway (real HTTP, real SQLite store): vitals and NEWS2 on ingest,
the station's order, the registry and alarm limits with who (the signed-in user) and when, and every answer
against the document. Requests carry a user's or the edge's token, as they must."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import jsonschema
import pytest

from gateway.audit import AuditLog
from gateway.auth import Role
from gateway.config import GatewayConfig, StationConfig
from gateway.server import RunningGateway, running_gateway
from gateway.station.routes import ROUTES
from iomt.wire.frames import Reading
from tests.gateway.auth_helpers import Keys
from tests.gateway.helpers import T0_US, uplink_body

NORMAL = {"hr": 72.0, "spo2": 97.0, "bp_sys": 125.0, "bp_dia": 80.0, "temp_c": 36.8, "resp_rate": 15.0}
HIGH = {"hr": 115.0, "spo2": 93.0, "bp_sys": 105.0, "bp_dia": 70.0, "temp_c": 37.5, "resp_rate": 23.0}  # NEWS2 7


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[RunningGateway]:
    config = GatewayConfig(port=0, db_path=tmp_path / "gw.sqlite", station=StationConfig(escalate_after_s=5.0))
    async with running_gateway(config) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def readings(device: str, values: dict[str, float], first: int, n: int, t0_us: int = T0_US) -> list[Reading]:
    return [Reading(device, "vitals", s, t0_us + s * 1_000_000, values) for s in range(first, first + n)]


_KEYS: dict[int, Keys] = {}
VIEWER = ("viewer-vic", Role.VIEWER)


def keys(gw: RunningGateway) -> Keys:
    return _KEYS.setdefault(id(gw.app), Keys(gw))


async def post(http, gw, body: bytes) -> dict:
    async with http.post(f"{gw.url}/api/v1/uplink", data=body, headers=keys(gw).edge("edge-9")) as r:
        assert r.status == 200, await r.text()
        return await r.json()


async def call(http, gw, method: str, path: str, user: tuple[str, Role] = VIEWER, **kwargs) -> tuple[int, dict]:
    """A request as ``user`` (name, role), a viewer unless given."""
    headers = {**keys(gw).user(*user), **kwargs.pop("headers", {})}
    async with http.request(method, f"{gw.url}{path}", headers=headers, **kwargs) as r:
        assert r.content_type == "application/json", await r.text()
        return r.status, await r.json()


async def test_news2_is_computed_on_ingest_stored_served_and_drives_alerts_and_the_order(http, gw):
    ack = await post(http, gw, uplink_body(readings=readings("bed-1", NORMAL, 0, 5) + readings("bed-2", NORMAL, 0, 5)))
    assert ack == {"stored": 10, "duplicates": 0, "rejected": 0}  # the edge is acknowledged for its own records
    status, station = await call(http, gw, "GET", "/api/v1/station")
    assert status == 200 and [t["device"] for t in station["tiles"]] == ["bed-1", "bed-2"]
    await post(http, gw, uplink_body(readings=readings("bed-2", HIGH, 5, 3)))
    status, station = await call(http, gw, "GET", "/api/v1/station")
    first = station["tiles"][0]
    assert first["device"] == "bed-2" and first["news2"]["total"] == 7 and first["news2"]["band"] == "high"
    assert first["news2"]["consciousness_assumed"] is True and first["priority"] == "high"
    assert [(a["label"], a["priority"], a["category"]) for a in first["clinical"]] == [("news2_high", "high",
                                                                                       "clinical")]
    spo2 = next(v for v in first["vitals"] if v["name"] == "spo2")
    assert (spo2["value"], spo2["status"], spo2["limits"]["low"]) == (93.0, "normal", 90)
    status, alerts = await call(http, gw, "GET", "/api/v1/alerts", params={"device": "bed-2"})
    assert [(a["label"], a["state"], a["node"]) for a in alerts["alerts"]] == [("news2_high", "raised", "")]
    # the trend, downsampled on the server, and the latest score of every patient
    status, trend = await call(http, gw, "GET", "/api/v1/patients/bed-2/news2",
                               params={"start": str(T0_US / 1e6), "end": str(T0_US / 1e6 + 7.5), "points": "4"})
    assert status == 200 and trend["readings"] == 8 and trend["points"] == 4
    assert trend["total"]["high"][-1] == 7.0 and trend["band"][-1] == "high" and trend["band"][0] == "low"
    status, latest = await call(http, gw, "GET", "/api/v1/news2")
    assert {x["device"]: x["news2"]["total"] for x in latest["news2"]} == {"bed-1": 0, "bed-2": 7}
    # the patient's streams do not list the derived NEWS2 stream
    status, patient = await call(http, gw, "GET", "/api/v1/patients/bed-2")
    assert patient["streams"] == ["vitals"] and "news2" not in patient["loss"]
    # a redelivery stores nothing twice and moves no alarm
    assert (await post(http, gw, uplink_body(readings=readings("bed-2", HIGH, 5, 3))))["duplicates"] == 3
    status, alerts = await call(http, gw, "GET", "/api/v1/alerts", params={"device": "bed-2"})
    assert len(alerts["alerts"]) == 1


async def test_vitals_trend_has_units_and_every_vital(http, gw):
    await post(http, gw, uplink_body(readings=readings("bed-3", NORMAL, 0, 20)))
    status, trend = await call(http, gw, "GET", "/api/v1/patients/bed-3/vitals",
                               params={"start": str(T0_US / 1e6), "end": str(T0_US / 1e6 + 19.999), "points": "5"})
    assert status == 200 and trend["readings"] == 20 and trend["points"] == 5
    lines = {v["name"]: v for v in trend["vitals"]}
    assert list(lines) == ["hr", "spo2", "bp_sys", "bp_dia", "resp_rate", "temp_c"]
    assert (lines["temp_c"]["unit"], lines["bp_sys"]["unit"], lines["resp_rate"]["unit"]) == ("°C", "mmHg", "/min")
    assert lines["spo2"]["mean"] == [97.0] * 5 and lines["hr"]["low"] == [72.0] * 5
    status, table = await call(http, gw, "GET", "/api/v1/vitals")
    assert [v["unit"] for v in table["vitals"]] == ["bpm", "%", "mmHg", "mmHg", "/min", "°C"]
    for query, param in (({"points": "0"}, "points"), ({"start": "soon"}, "start")):
        status, err = await call(http, gw, "GET", "/api/v1/patients/bed-3/vitals", params=query)
        assert status == 400 and err["error"].startswith(f"{param}:")


async def test_the_registry_and_the_clinical_settings_are_edited_and_audited(http, gw, tmp_path):
    admin, clinician = ("admin-ann", Role.ADMIN), ("dr-cho", Role.CLINICIAN)
    status, err = await call(http, gw, "PUT", "/api/v1/patient-registry/bed-4", clinician, json={"bed": "12"})
    assert status == 403  # the registry is the admin's
    status, record = await call(http, gw, "PUT", "/api/v1/patient-registry/bed-4", admin,
                                json={"by": "admin-ann", "bed": "12", "room": "4B", "display_name": "J. Doe",
                                      "condition": "copd"})
    assert status == 200 and (record["bed"], record["condition"], record["updated_by"]) == ("12", "copd", "admin-ann")
    assert record["spo2_scale"] == "1"  # a COPD condition does not choose scale 2: a clinician does
    status, record = await call(http, gw, "PUT", "/api/v1/patient-registry/bed-4/clinical", clinician,
                                json={"spo2_scale": "2", "supplemental_oxygen": True})
    assert (record["spo2_scale"], record["supplemental_oxygen"], record["bed"]) == ("2", True, "12")
    await post(http, gw, uplink_body(readings=readings("bed-4", {**NORMAL, "spo2": 90.0}, 0, 1)))
    status, station = await call(http, gw, "GET", "/api/v1/station")
    [tile] = station["tiles"]
    assert (tile["bed"], tile["room"], tile["display_name"], tile["condition"]) == ("12", "4B", "J. Doe", "copd")
    # scale 2, on oxygen: SpO2 90 scores 0, oxygen 2
    assert tile["news2"]["spo2_scale"] == "2" and tile["news2"]["parameters"]["spo2"] == 0
    assert tile["news2"]["on_oxygen"] is True and tile["news2"]["total"] == 2
    spo2 = next(v for v in tile["vitals"] if v["name"] == "spo2")
    assert spo2["limits"]["low"] == 86 and spo2["status"] == "normal"  # COPD limits
    for body, field in (({"condition": "flu"}, "condition"), ({"bed": "<b>"}, "bed"),
                        ({"by": "", "bed": "1"}, "by"), ({"colour": "red"}, "colour")):
        status, err = await call(http, gw, "PUT", "/api/v1/patient-registry/bed-4", admin, json=body)
        assert status == 400 and err["error"].startswith(field), (body, err)
    status, err = await call(http, gw, "PUT", "/api/v1/patient-registry/bed-4", admin,
                             json={"by": "dr-cho", "bed": "1"})
    assert status == 403 and "signed in as 'admin-ann'" in err["error"]  # nobody acts under another's name
    status, err = await call(http, gw, "PUT", "/api/v1/patient-registry/bed-4", admin, data=b"{", headers={
        "Content-Type": "application/json"})
    assert status == 400 and err["error"].startswith("body")
    audit = AuditLog(tmp_path / "audit.sqlite")
    try:
        entries = [(e.actor, e.action, e.target) for e in audit.entries()]
        assert entries == [("user:admin-ann", "registry.update", "patient:bed-4"),
                           ("user:dr-cho", "registry.clinical", "patient:bed-4")]
        assert audit.verify().ok
    finally:
        audit.close()


async def test_alarm_limits_are_edited_with_who_and_when_and_a_breach_alarms(http, gw, tmp_path):
    status, limits = await call(http, gw, "GET", "/api/v1/patients/bed-5/limits")
    assert status == 200 and limits["custom"] is False and limits["limits"]["hr"]["high"] == 120
    ann, bea, cho = ("nurse-ann", Role.CLINICIAN), ("nurse-bea", Role.CLINICIAN), ("dr-cho", Role.CLINICIAN)
    status, err = await call(http, gw, "PUT", "/api/v1/patients/bed-5/limits", json={"limits": {"hr": {"high": 99}}})
    assert status == 403  # a viewer reads the limits, a clinician changes them
    status, limits = await call(http, gw, "PUT", "/api/v1/patients/bed-5/limits", ann,
                                json={"limits": {"hr": {"high": 100}, "spo2": {"low": 93}}})
    assert status == 200 and limits["custom"] is True and limits["changed_by"] == "nurse-ann"
    assert limits["limits"]["hr"] == {"low": 50, "high": 100, "extreme_low": 40, "extreme_high": 140}
    assert limits["limits"]["spo2"]["low"] == 93 and limits["changed_us"] > 0
    await post(http, gw, uplink_body(readings=readings("bed-5", {**NORMAL, "hr": 105.0}, 0, 3)))
    status, station = await call(http, gw, "GET", "/api/v1/station")
    [tile] = station["tiles"]
    assert [(a["label"], a["priority"]) for a in tile["clinical"]] == [("hr_high", "medium")]
    assert tile["heart_rate"] == 105.0 and tile["heart_rate_status"] == "high"
    status, acked = await call(http, gw, "POST", f"/api/v1/alerts/{tile['clinical'][0]['event_id']}/acknowledge",
                               bea, json={})
    assert status == 200 and acked["acknowledged_by"] == "nurse-bea"
    for body, field in (({"limits": {"hr": {"low": 130}}}, "limits.hr"),
                        ({"limits": {"spo2": {"low": 120}}}, "limits"),
                        ({"limits": {"pulse": {"low": 1}}}, "limits.pulse"),
                        ({"limits": {}}, "limits")):
        status, err = await call(http, gw, "PUT", "/api/v1/patients/bed-5/limits", ann, json=body)
        assert status == 400 and err["error"].startswith(field), (body, err)
    status, limits = await call(http, gw, "POST", "/api/v1/patients/bed-5/limits/reset", cho, json={"by": "dr-cho"})
    assert limits["custom"] is False and limits["limits"]["hr"]["high"] == 120 and limits["changed_by"] == "dr-cho"
    status, history = await call(http, gw, "GET", "/api/v1/patients/bed-5/limits/history")
    assert [(c["changed_by"], c["limits"] is None) for c in history["changes"]] == [("dr-cho", True),
                                                                                   ("nurse-ann", False)]
    status, defaults = await call(http, gw, "GET", "/api/v1/limits/defaults")
    copd = next(d for d in defaults["defaults"] if d["condition"] == "copd")
    assert copd["limits"]["spo2"]["low"] == 86
    audit = AuditLog(tmp_path / "audit.sqlite")
    try:
        changes = [e for e in audit.entries() if e.action.startswith("limits.")]
        assert [(e.actor, e.action) for e in changes] == [("user:nurse-ann", "limits.change"),
                                                          ("user:dr-cho", "limits.reset")]
        [ack] = [e for e in audit.entries() if e.action.startswith("alert.")]
        assert (ack.actor, ack.action, ack.detail["device"], ack.detail["label"]) == (
            "user:nurse-bea", "alert.acknowledge", "bed-5", "hr_high")
        assert changes[0].detail["changed"]["hr"]["from"]["high"] == 120
        assert changes[0].detail["changed"]["hr"]["to"]["high"] == 100
    finally:
        audit.close()


async def test_every_station_answer_matches_the_document_and_every_route_declares_a_role(http, gw):
    await post(http, gw, uplink_body(readings=readings("bed-6", HIGH, 0, 4)))
    await call(http, gw, "PUT", "/api/v1/patient-registry/bed-6", ("a", Role.ADMIN), json={"bed": "1"})
    await call(http, gw, "PUT", "/api/v1/patients/bed-6/limits", ("a", Role.ADMIN),
               json={"limits": {"hr": {"high": 110}}})
    status, doc = await call(http, gw, "GET", "/api/v1/openapi.json")
    query = {"start": str(T0_US / 1e6), "end": str(T0_US / 1e6 + 10)}
    roles = {}
    for route in ROUTES:
        operation = doc["paths"][route.path][route.method.lower()]
        roles[(route.method, route.path)] = operation["x-iomt-access"]
        if route.method != "GET":
            continue
        path = route.path.format(device="bed-6")
        status, body = await call(http, gw, "GET", path, params=query if path.endswith(("vitals", "news2"))
                                  and "patients" in path else None)
        assert status == 200, (path, body)
        schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
        jsonschema.validate(body, {**schema, "components": doc["components"]})
    assert roles[("PUT", "/api/v1/patient-registry/{device}")] == Role.ADMIN
    assert roles[("PUT", "/api/v1/patients/{device}/limits")] == Role.CLINICIAN
    assert roles[("PUT", "/api/v1/patient-registry/{device}/clinical")] == Role.CLINICIAN
    assert roles[("GET", "/api/v1/station")] == Role.VIEWER
    body_schema = doc["paths"]["/api/v1/patients/{device}/limits"]["put"]["requestBody"]["content"][
        "application/json"]["schema"]
    jsonschema.validate({"limits": {"hr": {"high": 110}}}, {**body_schema, "components": doc["components"]})


async def test_silence_is_no_data_and_an_offline_edge_leaves_its_patients_not_analysed(http, tmp_path):
    import asyncio
    import time

    from tests.gateway.helpers import ecg_frame

    config = GatewayConfig(port=0, db_path=tmp_path / "gw.sqlite",
                           station=StationConfig(tick_s=0.1, no_data_after_s=1.0))
    async with running_gateway(config) as gw:
        now = time.time_ns() // 1000
        await post(http, gw, uplink_body(frames=[ecg_frame("bed-7", 0, now)], readings=readings("bed-7", NORMAL, 0, 1,
                                                                                                 now)))

        async def tile() -> dict:
            _status, station = await call(http, gw, "GET", "/api/v1/station")
            return station["tiles"][0]

        assert (await tile())["technical"] == [] and (await tile())["analysed"] is True
        await asyncio.sleep(1.6)
        first = await tile()
        assert [(a["label"], a["category"], a["priority"]) for a in first["technical"]] == [
            ("no_data", "technical", "medium")]
        assert first["clinical"] == [] and first["stale"] is False
        gw.store.set_edge_status("edge-9", "ward-1", "offline", time.time_ns() // 1000)
        await asyncio.sleep(0.5)
        offline = await tile()
        assert offline["analysed"] is False and offline["stale"] is True and offline["edge_status"] == "offline"
        assert sorted(a["label"] for a in offline["technical"]) == ["edge_offline", "no_data"]
        gw.store.set_edge_status("edge-9", "ward-1", "online", time.time_ns() // 1000)
        now = time.time_ns() // 1000
        await post(http, gw, uplink_body(frames=[ecg_frame("bed-7", 1, now)],
                                         readings=readings("bed-7", NORMAL, 1, 1, now - 1_000_000)))
        await asyncio.sleep(0.5)
        back = await tile()
        assert back["analysed"] is True and back["technical"] == []
        _status, alerts = await call(http, gw, "GET", "/api/v1/alerts", params={"device": "bed-7"})
        assert {(a["label"], a["state"], a["resolved_by"]) for a in alerts["alerts"]} == {
            ("no_data", "resolved", "gateway"), ("edge_offline", "resolved", "gateway")}


async def test_the_station_works_on_either_store(http, store, tmp_path):
    """NEWS2 stored and served, the gateway's alert raised and resolved, trends and order: SQLite and a real influxd."""
    state = tmp_path / "state"
    config = GatewayConfig(port=0, db_path=tmp_path / "unused.sqlite", state_path=state / "state.sqlite",
                           audit_path=state / "audit.sqlite")
    async with running_gateway(config, store) as gw:
        await post(http, gw, uplink_body(readings=readings("bed-8", NORMAL, 0, 3) + readings("bed-9", NORMAL, 0, 3)))
        await post(http, gw, uplink_body(readings=readings("bed-9", HIGH, 3, 3)))
        status, station = await call(http, gw, "GET", "/api/v1/station")
        assert [t["device"] for t in station["tiles"]] == ["bed-9", "bed-8"]
        first = station["tiles"][0]
        assert first["news2"]["total"] == 7 and first["clinical"][0]["label"] == "news2_high"
        await post(http, gw, uplink_body(readings=readings("bed-9", NORMAL, 6, 5)))
        status, alerts = await call(http, gw, "GET", "/api/v1/alerts", params={"device": "bed-9"})
        assert [(a["label"], a["state"], a["resolved_by"]) for a in alerts["alerts"]] == [
            ("news2_high", "resolved", "gateway")]
        status, trend = await call(http, gw, "GET", "/api/v1/patients/bed-9/news2",
                                   params={"start": str(T0_US / 1e6), "end": str(T0_US / 1e6 + 10.5)})
        assert trend["total"]["mean"] == [0.0] * 3 + [7.0] * 3 + [0.0] * 5
        status, vitals = await call(http, gw, "GET", "/api/v1/patients/bed-9/vitals",
                                    params={"start": str(T0_US / 1e6), "end": str(T0_US / 1e6 + 10.5), "points": "2"})
        assert status == 200 and vitals["readings"] == 11 and vitals["points"] == 2
        _status, patients = await call(http, gw, "GET", "/api/v1/patients")
        assert all(p["streams"] == ["vitals"] for p in patients["patients"])
    assert (tmp_path / "state" / "state.sqlite").exists() and (tmp_path / "state" / "audit.sqlite").exists()
