"""Edges at the uplink: only with their own token, only as the node it names, only their own events,
and only their own alerts to resolve — a forged "resolved" from a second edge is refused, counted and
audited while the rest of its batch is stored."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from gateway.auth import Role
from gateway.auth.context import AUDIT, EDGE_AUTHORITY
from gateway.config import GatewayConfig
from gateway.server import RunningGateway, running_gateway
from gateway.store.records import AlertQuery, EventQuery
from iomt.wire.events import AlertState
from iomt.wire.uplink import CONTENT_TYPE
from tests.gateway.auth_helpers import Keys, bearer
from tests.gateway.helpers import T0_US, ecg_frame, edge_alert, event, uplink_body


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[RunningGateway]:
    async with running_gateway(GatewayConfig(port=0, db_path=tmp_path / "gw.sqlite")) as running:
        yield running


async def post(gw: RunningGateway, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as http, http.post(f"{gw.url}/api/v1/uplink", data=body, headers=headers) as r:
        return r.status, await r.json()


async def test_the_uplink_needs_the_edges_own_token_for_the_node_it_claims(gw):
    keys = Keys(gw)
    body = uplink_body(frames=[ecg_frame("p1", 0)])
    plain = {"Content-Type": CONTENT_TYPE, "X-Iomt-Node": "edge-1"}
    edge2 = keys.edge_token("edge-2")
    cases = [
        (plain, 401),  # no credential
        ({**plain, **bearer("edge-1.not-the-secret")}, 401),  # a guessed token
        ({**plain, **bearer(keys.token("ann"))}, 401),  # a person's token is no edge's
        ({**plain, **bearer(edge2)}, 403),  # edge-2's token, claiming to be edge-1
        ({"Content-Type": "application/octet-stream", **bearer(edge2)}, 415),
    ]
    for headers, status in cases:
        got, answer = await post(gw, body, headers)
        assert (got, answer["status"]) == (status, status), (headers, answer)
    assert gw.store.count("frames") == 0
    assert await post(gw, body, {"Content-Type": CONTENT_TYPE, **bearer(edge2)}) == (
        200, {"stored": 1, "duplicates": 0, "rejected": 0})  # no header: the credential names the node
    gw.app[EDGE_AUTHORITY].revoke("edge-2")
    status, answer = await post(gw, uplink_body(frames=[ecg_frame("p1", 1)]), keys.edge("edge-2"))
    assert status == 401 and "not valid" in answer["error"] and "rotate" in answer["error"]  # not "required"
    status, answer = await post(gw, uplink_body(frames=[ecg_frame("p1", 1)]), plain)
    assert status == 401 and "required" in answer["error"]
    assert gw.store.count("frames") == 1


async def test_an_event_naming_another_node_is_dead_lettered_and_the_rest_stored(gw):
    keys = Keys(gw)
    forged = event("p1", T0_US, node="edge-1", value=30.0)  # edge-2 pretending edge-1 measured it
    own = event("p1", T0_US + 1, node="edge-2", value=72.0)
    unnamed = event("p1", T0_US + 2, node="", value=73.0)
    status, ack = await post(gw, uplink_body(frames=[ecg_frame("p1", 0)], events=[forged, own, unnamed]),
                             keys.edge("edge-2"))
    assert status == 200 and ack == {"stored": 4, "duplicates": 0, "rejected": 1}
    stored = {e.value: e.node for e in gw.store.events(EventQuery())}
    assert stored == {72.0: "edge-2", 73.0: "edge-2"}  # an unnamed event is the sender's
    db = sqlite3.connect(gw.store.path)
    try:
        [(field, reason, node)] = db.execute("SELECT field, reason, node FROM deadletters").fetchall()
    finally:
        db.close()
    assert (field, node) == ("node", "edge-2") and "names node 'edge-1'" in reason


async def test_a_forged_resolution_from_a_second_edge_is_refused_counted_and_audited(gw):
    keys = Keys(gw)
    raised = edge_alert("p1", "vt-run-1", AlertState.RAISED, T0_US, node="edge-a")
    assert (await post(gw, uplink_body(events=[raised]), keys.edge("edge-a")))[0] == 200
    forged = edge_alert("p1", "vt-run-1", AlertState.RESOLVED, T0_US + 5, node="edge-b")
    status, ack = await post(gw, uplink_body(frames=[ecg_frame("p1", 0)], events=[forged]), keys.edge("edge-b"))
    assert status == 200 and ack == {"stored": 2, "duplicates": 0, "rejected": 0}  # the rest of the batch: stored
    [alert] = gw.store.alerts(AlertQuery())
    assert alert.state == AlertState.RAISED and alert.resolved_by is None  # not applied
    assert gw.store.count("frames") == 1
    async with aiohttp.ClientSession() as http, \
            http.get(f"{gw.url}/metrics", headers=keys.user("root", Role.ADMIN)) as r:
        assert "iomt_gateway_refused_alert_resolutions_total 1.0" in await r.text()
    entries = [(e.actor, e.action, e.target) for e in gw.app[AUDIT].entries()]
    assert ("edge:edge-b", "alert.resolve.refused", "vt-run-1") in entries
    # the edge that raised it may resolve it, and that is audited too
    own = edge_alert("p1", "vt-run-1", AlertState.RESOLVED, T0_US + 9, node="edge-a")
    assert (await post(gw, uplink_body(events=[own]), keys.edge("edge-a")))[0] == 200
    [alert] = gw.store.alerts(AlertQuery())
    assert (alert.state, alert.resolved_by) == (AlertState.RESOLVED, "edge:edge-a")
    entries = [(e.actor, e.action, e.target) for e in gw.app[AUDIT].entries()]
    assert entries[-1] == ("edge:edge-a", "alert.resolve", "vt-run-1")
    assert (await post(gw, uplink_body(events=[own]), keys.edge("edge-a")))[0] == 200  # a redelivery
    assert len(gw.app[AUDIT].entries()) == len(entries)  # changes nothing, audits nothing


async def test_an_edge_switching_model_versions_is_audited(gw):
    keys = Keys(gw)
    first = event("p1", T0_US, node="edge-1", model="ecg", version="1.0.0")
    again = event("p1", T0_US + 1, node="edge-1", model="ecg", version="1.0.0")
    newer = event("p1", T0_US + 2, node="edge-1", model="ecg", version="1.1.0")
    late_old = event("p1", T0_US + 1, node="edge-1", model="ecg", version="1.0.0", value=1.0)
    for batch in ([first], [again], [newer], [late_old]):
        assert (await post(gw, uplink_body(events=batch), keys.edge("edge-1")))[0] == 200
    changes = [(e.actor, e.target, e.detail) for e in gw.app[AUDIT].entries() if e.action == "model.version"]
    assert changes == [("edge:edge-1", "edge-1/ecg", {"previous": None, "version": "1.0.0"}),
                       ("edge:edge-1", "edge-1/ecg", {"previous": "1.0.0", "version": "1.1.0"})]


async def test_another_edge_authority_plugs_in_in_place_of_the_state_file(tmp_path):
    """The device registry takes this place at merge: anything with ``edge_for_token``."""
    from gateway.auth import EdgeTokens

    registry = EdgeTokens(tmp_path / "elsewhere.sqlite")
    token = registry.issue("edge-r")
    config = GatewayConfig(port=0, db_path=tmp_path / "gw.sqlite")
    async with running_gateway(config, edges=registry) as gw:
        assert gw.app[EDGE_AUTHORITY] is registry
        body = uplink_body(frames=[ecg_frame("p1", 0)])
        assert (await post(gw, body, {"Content-Type": CONTENT_TYPE, **bearer(token)}))[0] == 200
        own = EdgeTokens(config.state_file()).issue("edge-s")  # the state file is not consulted now
        assert (await post(gw, body, {"Content-Type": CONTENT_TYPE, **bearer(own)}))[0] == 401
    registry.close()


async def test_with_a_registry_the_uplink_takes_the_tokens_it_issued_and_refuses_a_revoked_edge_at_once(tmp_path):
    from gateway.registry.config import RegistryConfig, open_registry
    from gateway.registry.records import Kind

    registry_config = RegistryConfig(path=tmp_path / "registry.sqlite")
    registry = open_registry(registry_config)
    edge = registry.enrol("edge-1", Kind.EDGE, "ward")
    other = registry.enrol("edge-2", Kind.EDGE, "ward")
    device = registry.enrol("patient-1", Kind.DEVICE, "ward")
    assert edge.uplink_token is not None and other.uplink_token is not None
    config = GatewayConfig(port=0, db_path=tmp_path / "gw.sqlite", registry=registry_config)
    async with running_gateway(config) as gw:
        headers = {"Content-Type": CONTENT_TYPE, "X-Iomt-Node": "edge-1"}
        assert (await post(gw, uplink_body(frames=[ecg_frame("p1", 0)]), {**headers, **bearer(edge.uplink_token)}))[
            0] == 200
        refused = [
            bearer(other.uplink_token),  # edge-2 claiming edge-1
            bearer(f"patient-1.{device.password}"),  # a device's MQTT password is no uplink token
            bearer(edge.uplink_token + "x"),
        ]
        assert [(await post(gw, uplink_body(frames=[ecg_frame("p1", 9)]), {**headers, **h}))[0] for h in refused] == [
            403, 401, 401]
        registry.revoke("edge-1", actor="user:admin")
        assert (await post(gw, uplink_body(frames=[ecg_frame("p1", 1)]), {**headers, **bearer(edge.uplink_token)}))[
            0] == 401
        assert gw.store.count("frames") == 1
