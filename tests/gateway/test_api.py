"""The REST API against a running gateway (real HTTP, real SQLite store), malformed input included."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import jsonschema
import pytest

from gateway.alerts import Alert
from gateway.auth import Role
from gateway.config import GatewayConfig
from gateway.server import RunningGateway, running_gateway
from gateway.store.records import AlertQuery, WriteBatch
from iomt.wire.events import AlertState, Event, EventKind, Priority, encode_event
from iomt.wire.frames import encode_frame
from iomt.wire.uplink import RecordKind, UplinkRecord, encode_batch
from tests.gateway.auth_helpers import Keys
from tests.gateway.helpers import T0_US, acc_frame, ecg_frame, event, fall_alert, uplink_body, vitals


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[RunningGateway]:
    async with running_gateway(GatewayConfig(port=0, db_path=tmp_path / "gw.sqlite")) as running:
        yield running


@pytest.fixture
def keys(gw: RunningGateway) -> Keys:
    return Keys(gw)


@pytest.fixture
async def http(keys: Keys) -> AsyncIterator[aiohttp.ClientSession]:
    """Signed in as nurse-ann, a clinician (uplink requests carry their edge's token instead)."""
    async with aiohttp.ClientSession(headers=keys.user("nurse-ann", Role.CLINICIAN)) as session:
        yield session


async def post_uplink(http, keys: Keys, body: bytes, node: str = "edge-1") -> tuple[int, dict]:
    async with http.post(f"{keys.gw.url}/api/v1/uplink", data=body, headers=keys.edge(node)) as r:
        return r.status, await r.json()


async def get(http, gw, path: str, **query: str) -> tuple[int, dict]:
    async with http.get(f"{gw.url}{path}", params=query) as r:
        assert r.content_type == "application/json", await r.text()
        return r.status, await r.json()


async def seed(http, keys: Keys) -> None:
    body = uplink_body(
        frames=[ecg_frame("p1", s) for s in range(10)] + [acc_frame("p1", 0), ecg_frame("p2", 0)],
        readings=[vitals("p1", 0)],
        events=[event("p1", T0_US + 5_000_000, value=71.0), event("p1", T0_US + 9_000_000, value=74.0),
                event("p2", T0_US, model="fall", kind="inference", label="no_fall", value=None, version="2.1.0")],
    )
    status, ack = await post_uplink(http, keys, body)
    assert status == 200 and ack == {"stored": 16, "duplicates": 0, "rejected": 0}


async def test_uplink_acknowledges_after_commit_and_counts_redeliveries(http, gw, keys):
    body = uplink_body(frames=[ecg_frame("p1", s) for s in range(3)])
    assert await post_uplink(http, keys, body) == (200, {"stored": 3, "duplicates": 0, "rejected": 0})
    assert gw.store.stored_sequences("p1", "ecg") == [0, 1, 2]
    assert await post_uplink(http, keys, body) == (200, {"stored": 0, "duplicates": 3, "rejected": 0})


async def test_uplink_rejects_malformed_batches_and_dead_letters_bad_records(http, gw, keys):
    status, body = await post_uplink(http, keys, b"not a batch")
    assert status == 400 and "malformed uplink batch" in body["error"]
    good = ecg_frame("p1", 0)
    bad = encode_frame(good)[:-3]
    batch = encode_batch([UplinkRecord(RecordKind.FRAME, encode_frame(good)), UplinkRecord(RecordKind.FRAME, bad)])
    assert await post_uplink(http, keys, batch) == (200, {"stored": 2, "duplicates": 0, "rejected": 1})
    assert gw.store.count("deadletters") == 1 and gw.store.count("frames") == 1


async def test_patients_list_loss_counters_heart_rate_and_one_patient(http, gw, keys):
    await seed(http, keys)
    gw.store.write(WriteBatch(frames=[ecg_frame("p2", 3)]))
    status, body = await get(http, gw, "/api/v1/patients")
    assert status == 200
    patients = {p["device"]: p for p in body["patients"]}
    assert set(patients) == {"p1", "p2"}
    assert patients["p1"]["heart_rate"] == 74.0
    assert patients["p1"]["streams"] == ["acc", "ecg", "vitals"]
    assert patients["p1"]["loss"]["ecg"] == {"frames": 10, "missing": 0, "duplicates": 0, "last_seq": 9}
    assert patients["p2"]["loss"]["ecg"]["missing"] == 2
    status, one = await get(http, gw, "/api/v1/patients/p1")
    assert status == 200 and one["device"] == "p1"
    status, err = await get(http, gw, "/api/v1/patients/nobody")
    assert status == 404 and "nobody" in err["error"]
    status, err = await get(http, gw, "/api/v1/patients/_bad%20id")
    assert status == 400 and err["error"].startswith("device:")


async def test_stream_range_is_downsampled_on_the_server(http, gw, keys):
    await seed(http, keys)
    start, end = str(T0_US / 1e6), str((T0_US + 10_000_000) / 1e6)
    status, body = await get(http, gw, "/api/v1/patients/p1/streams/ecg", start=start, end=end, points="100")
    assert status == 200
    assert body["samples"] == 2500 and body["points"] == 100 and len(body["values"][0]) == 100
    assert len(body["values"]) == 1 and body["t_us"][0] == T0_US
    status, iso = await get(http, gw, "/api/v1/patients/p1/streams/ecg", start="2023-11-14T22:13:20Z",
                            end="2023-11-14T22:13:21+00:00", points="5000")
    assert status == 200 and iso["samples"] == 251  # both ends inclusive
    status, acc = await get(http, gw, "/api/v1/patients/p1/streams/acc", start=start, end=end)
    assert status == 200 and len(acc["values"]) == 3


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ({"start": "yesterday"}, "start"),
        ({"start": "2024-01-01T00:00:00"}, "start"),
        ({"end": "nan"}, "end"),
        ({"end": "1e30"}, "end"),
        ({"start": "1700000010", "end": "1700000000"}, "start"),
        ({"start": "1000000000", "end": "1700000000"}, "start"),
        ({"points": "0"}, "points"),
        ({"points": "many"}, "points"),
        ({"points": "1000000"}, "points"),
    ],
)
async def test_stream_query_malformed_parameters_are_400(http, gw, query, param):
    status, body = await get(http, gw, "/api/v1/patients/p1/streams/ecg", **query)
    assert status == 400, body
    assert body["error"].startswith(f"{param}:") and body["status"] == 400


async def test_stream_of_unknown_or_non_waveform_stream_is_400(http, gw):
    for stream in ("vitals", "blood"):
        status, body = await get(http, gw, f"/api/v1/patients/p1/streams/{stream}")
        assert status == 400 and body["error"].startswith("stream:")


async def test_events_filters_and_malformed_parameters(http, gw, keys):
    await seed(http, keys)
    status, body = await get(http, gw, "/api/v1/events", device="p1")
    assert status == 200 and [e["value"] for e in body["events"]] == [74.0, 71.0]
    status, body = await get(http, gw, "/api/v1/events", model="fall")
    assert [e["device"] for e in body["events"]] == ["p2"]
    status, body = await get(http, gw, "/api/v1/events", start=str((T0_US + 6_000_000) / 1e6), limit="5")
    assert [e["value"] for e in body["events"]] == [74.0]
    for query in ({"kind": "gossip"}, {"limit": "-1"}, {"device": "a b"}, {"start": "soon"}):
        status, body = await get(http, gw, "/api/v1/events", **query)
        assert status == 400, (query, body)


async def test_alerts_by_priority_acknowledge_and_resolve_with_who_and_when(http, gw, keys):
    low = event("p2", T0_US + 50, kind="alert", model="sqi", label="lead_off", priority="low")
    fall = fall_alert("p1", T0_US)
    assert (await post_uplink(http, keys, uplink_body(events=[low, fall])))[0] == 200
    status, body = await get(http, gw, "/api/v1/alerts")
    assert [a["label"] for a in body["alerts"]] == ["fall", "lead_off"]  # high before low, though older
    url = f"{gw.url}/api/v1/alerts/{fall.event_id}"
    async with http.post(f"{url}/acknowledge", json={"by": "nurse-ann"}) as r:
        acked = await r.json()
        assert r.status == 200 and acked["state"] == "acknowledged" and acked["acknowledged_by"] == "nurse-ann"
    stored = gw.store.alerts(AlertQuery(states={AlertState.ACKNOWLEDGED}))
    assert [a.event.event_id for a in stored] == [fall.event_id] and stored[0].acknowledged_us is not None
    async with http.post(f"{url}/acknowledge", json={"by": "nurse-bob"},
                         headers=keys.user("nurse-bob", Role.CLINICIAN)) as r:
        assert r.status == 409 and "already acknowledged" in (await r.json())["error"]
    async with http.post(f"{url}/resolve", json={"by": "dr-cho"}, headers=keys.user("dr-cho", Role.CLINICIAN)) as r:
        assert r.status == 200 and (await r.json())["resolved_by"] == "dr-cho"
    status, body = await get(http, gw, "/api/v1/alerts", state="open")
    assert status == 200
    assert [a["label"] for a in body["alerts"]] == ["lead_off"]
    status, body = await get(http, gw, "/api/v1/alerts", priority="high")
    assert status == 200
    assert [a["state"] for a in body["alerts"]] == ["resolved"]


async def test_alert_actions_malformed(http, gw, keys):
    fall = fall_alert("p1", T0_US)
    await post_uplink(http, keys, uplink_body(events=[fall]))
    url = f"{gw.url}/api/v1/alerts/{fall.event_id}/acknowledge"
    cases = [
        ({"data": b"{not json", "headers": {"Content-Type": "application/json"}}, 400, "body:"),
        ({}, 415, "Content-Type must be application/json"),
        ({"json": {"by": "nurse-bob"}}, 403, "by: you are signed in as 'nurse-ann'"),
        ({"json": {"by": ""}}, 400, "by:"),
        ({"json": {"by": 7}}, 400, "by:"),
        ({"json": ["nurse"]}, 400, "by:"),
        ({"json": {"by": "x" * 65}}, 400, "by:"),
    ]
    for kwargs, status, prefix in cases:
        async with http.post(url, **kwargs) as r:
            body = await r.json()
            assert (r.status, body["error"][: len(prefix)]) == (status, prefix), kwargs
    async with http.post(f"{gw.url}/api/v1/alerts/{'0' * 32}/resolve", json={"by": "nurse-ann"}) as r:
        assert r.status == 404
    async with http.post(f"{gw.url}/api/v1/alerts/{fall.event_id}/delete", json={"by": "x"}) as r:
        assert r.status == 404 and "error" in await r.json()
    assert gw.store.alerts(AlertQuery())[0].state == "raised"


async def test_edges_status_and_models_per_edge(http, gw, keys):
    await seed(http, keys)
    gw.store.set_edge_status("edge-1", "ward-1", "online", T0_US)
    gw.store.set_edge_status("edge-9", "ward-2", "offline", T0_US)
    status, body = await get(http, gw, "/api/v1/edges")
    edges = {e["node"]: e for e in body["edges"]}
    assert edges["edge-1"]["status"] == "online" and edges["edge-9"]["status"] == "offline"
    assert {(m["model"], m["version"]) for m in edges["edge-1"]["models"]} == {("heart_rate", "1.0.0"),
                                                                              ("fall", "2.1.0")}
    status, body = await get(http, gw, "/api/v1/edges/edge-1/models")
    assert status == 200 and len(body["models"]) == 2
    assert (await get(http, gw, "/api/v1/edges/edge-404/models"))[0] == 404
    assert (await get(http, gw, "/api/v1/edges/bad%20node/models"))[0] == 400
    status, body = await get(http, gw, "/api/v1/models")
    assert status == 200 and {m["node"] for m in body["models"]} == {"edge-1"}


async def test_summary_health_unknown_paths_and_methods(http, gw, keys):
    await seed(http, keys)
    status, body = await get(http, gw, "/api/v1/summary")
    assert status == 200 and body["totals"]["frames"] == 12 and body["patients"][0]["device"] == "p1"
    assert (await get(http, gw, "/healthz")) == (200, {"status": "ok"})
    status, body = await get(http, gw, "/api/v1/nothing-here")
    assert status == 404 and body["status"] == 404
    async with http.delete(f"{gw.url}/api/v1/patients") as r:
        assert r.status == 405 and "error" in await r.json()


async def test_openapi_documents_every_route(http, gw):
    status, doc = await get(http, gw, "/api/v1/openapi.json")
    assert status == 200 and doc["openapi"].startswith("3.")
    routes = set()
    for resource in gw.app.router.resources():
        info = resource.get_info()
        path = info.get("path") or info.get("formatter")
        if path and not path.startswith("/static"):
            routes.add(path)
    assert routes <= set(doc["paths"]), routes - set(doc["paths"])


EVENT_FIELDS = [f.name for f in dataclasses.fields(Event)]
ALERT_FIELDS = [f.name for f in dataclasses.fields(Alert) if f.name != "event"]


def full_event(device: str, t_us: int, **changes: object) -> Event:
    """An event with every field set to something other than its default."""
    base = Event(device=device, model="ecg", model_version="3.1.4", kind=EventKind.INFERENCE, label="af", score=0.625,
                 window_start_us=t_us - 8_000_000, window_end_us=t_us - 1, t_us=t_us, site="ward-9", node="edge-5",
                 priority=Priority.LOW, value=0.25, detail={"beats": [1, 2], "source": {"lead": "II"}})
    return dataclasses.replace(base, **changes)


async def test_every_event_field_reaches_the_api(http, gw, keys):
    """A field of the Event record that the API dropped (as /events once dropped window_* and detail) fails here."""
    inference = full_event("p1", T0_US)
    alert = full_event("p2", T0_US + 1, kind=EventKind.ALERT, state=AlertState.RAISED, priority=Priority.HIGH,
                       detail={"alert_id": "will-be-the-id"}, event_id="will-be-the-id")
    assert (await post_uplink(http, keys, uplink_body(events=[inference, alert]), node="edge-5"))[0] == 200
    status, body = await get(http, gw, "/api/v1/events")
    assert status == 200
    by_id = {e["event_id"]: e for e in body["events"]}
    for sent in (inference, alert):
        assert list(by_id[sent.event_id]) == EVENT_FIELDS
        assert by_id[sent.event_id] == json.loads(encode_event(sent))  # the API and the wire agree on every value
    status, body = await get(http, gw, "/api/v1/alerts")
    [shown] = body["alerts"]
    assert set(shown) == set(EVENT_FIELDS) | set(ALERT_FIELDS)
    assert {k: v for k, v in shown.items() if k in EVENT_FIELDS} == json.loads(encode_event(alert))
    async with http.post(f"{gw.url}/api/v1/alerts/{alert.event_id}/acknowledge", json={"by": "nurse-ann"}) as r:
        acked = await r.json()
    assert set(acked) == set(shown) and acked["detail"] == {"alert_id": "will-be-the-id"}
    assert (acked["state"], acked["acknowledged_by"]) == ("acknowledged", "nurse-ann")


async def test_every_answer_matches_the_openapi_document(http, gw, keys):
    await seed(http, keys)
    await post_uplink(http, keys, uplink_body(events=[fall_alert("p1", T0_US)]))
    gw.store.set_edge_status("edge-1", "ward-1", "online", T0_US)
    status, doc = await get(http, gw, "/api/v1/openapi.json")
    schemas = doc["components"]["schemas"]
    assert list(schemas["Event"]["properties"]) == EVENT_FIELDS
    assert set(schemas["Alert"]["properties"]) == set(EVENT_FIELDS) | set(ALERT_FIELDS)
    assert schemas["EventKind"]["enum"] == [k.value for k in EventKind]
    start, end = str(T0_US / 1e6), str((T0_US + 10_000_000) / 1e6)
    answers = {
        "/api/v1/summary": {}, "/api/v1/patients": {}, "/api/v1/devices": {}, "/api/v1/patients/{device}": {},
        "/api/v1/patients/{device}/streams/{stream}": {"start": start, "end": end, "points": "50"},
        "/api/v1/events": {}, "/api/v1/alerts": {}, "/api/v1/edges": {}, "/api/v1/edges/{node}/models": {},
        "/api/v1/models": {}, "/healthz": {},
    }
    for template, query in answers.items():
        path = template.format(device="p1", stream="ecg", node="edge-1")
        status, body = await get(http, gw, path, **query)
        assert status == 200, (path, body)
        schema = doc["paths"][template]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        jsonschema.validate(body, {**schema, "components": doc["components"]})
        assert body, path
    status, body = await get(http, gw, "/api/v1/patients/p1")
    broken = {k: v for k, v in body.items() if k != "loss"}  # a dropped field would fail the validation
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, {"$ref": "#/components/schemas/PatientView", "components": doc["components"]})


async def test_redeliveries_are_counted_in_patients_summary_and_metrics_but_stored_once(http, gw, keys):
    body = uplink_body(frames=[ecg_frame("p1", s) for s in range(4)], readings=[vitals("p1", 0)])
    assert await post_uplink(http, keys, body) == (200, {"stored": 5, "duplicates": 0, "rejected": 0})
    assert await post_uplink(http, keys, body) == (200, {"stored": 0, "duplicates": 5, "rejected": 0})
    status, patients = await get(http, gw, "/api/v1/patients")
    [p1] = patients["patients"]
    assert p1["loss"]["ecg"] == {"frames": 4, "missing": 0, "duplicates": 4, "last_seq": 3}
    assert p1["loss"]["vitals"]["duplicates"] == 1
    status, summary = await get(http, gw, "/api/v1/summary")
    assert status == 200 and summary["totals"]["duplicates"] == 5 and summary["totals"]["frames"] == 4
    assert summary["patients"] == patients["patients"]
    assert gw.store.stored_sequences("p1", "ecg") == [0, 1, 2, 3]
    async with http.get(f"{gw.url}/metrics", headers=keys.role(Role.ADMIN)) as r:
        text = await r.text()
    assert 'iomt_store_stream_duplicates{device="p1",stream="ecg"} 4.0' in text


async def test_prometheus_metrics_cover_gateway_and_store(http, gw, keys):
    await seed(http, keys)
    await get(http, gw, "/api/v1/events", kind="gossip")
    async with http.get(f"{gw.url}/metrics", headers=keys.role(Role.ADMIN)) as r:
        assert r.status == 200
        text = await r.text()
    assert 'iomt_gateway_uplink_batches_total{outcome="committed"} 1.0' in text
    assert 'iomt_gateway_uplink_records_total{result="stored"} 16.0' in text
    assert 'iomt_store_rows{table="frames"} 12.0' in text
    assert 'route="/api/v1/events",status="400"' in text
    assert "iomt_gateway_store_write_seconds_count 1.0" in text


@pytest.mark.parametrize(
    ("query", "param"),
    [({"state": "sleeping"}, "state"), ({"priority": "urgent"}, "priority"), ({"limit": "0"}, "limit"),
     ({"limit": "ten"}, "limit"), ({"device": "../etc"}, "device")],
)
async def test_alert_list_malformed_parameters_are_400(http, gw, query, param):
    status, body = await get(http, gw, "/api/v1/alerts", **query)
    assert status == 400 and body["error"].startswith(f"{param}:")


NASTY = ["", " ", "-1", "0", "1e309", "NaN", "-inf", "∞", "'; DROP TABLE frames; --", "%", "2024-13-45T99:99Z",
         "9" * 400, "1700000000", "2023-11-14T22:13:20Z", "true", "[]"]
QUERY_ENDPOINTS = {
    "/api/v1/patients/p1/streams/ecg": ("start", "end", "points"),
    "/api/v1/events": ("device", "kind", "model", "start", "end", "limit"),
    "/api/v1/alerts": ("state", "priority", "device", "limit"),
}


async def test_no_query_parameter_value_makes_a_500(http, gw, keys):
    await seed(http, keys)
    for path, names in QUERY_ENDPOINTS.items():
        for name in names:
            for value in NASTY:
                status, body = await get(http, gw, path, **{name: value})
                assert status in (200, 400), (path, name, value, status, body)
                assert status == 200 or body["error"].startswith(f"{name}:"), (path, name, value, body)
    for device in ("p1", "x" * 65, "'", "p1%27%20OR%201=1"):
        for path in (f"/api/v1/patients/{device}", f"/api/v1/patients/{device}/streams/ecg",
                     f"/api/v1/edges/{device}/models"):
            status, _ = await get(http, gw, path)
            assert status in (200, 400, 404), (path, status)
