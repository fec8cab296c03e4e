"""The live feed: decimation (pure), bounded per-browser queues, and the WebSocket of a running gateway."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import numpy as np
import pytest

from gateway.auth import Role
from gateway.config import GatewayConfig, LiveConfig
from gateway.live import LiveHub, decimate_peaks, frame_for_display
from gateway.server import RunningGateway, running_gateway
from gateway.state import HUB
from iomt.wire.events import AlertState, Event
from iomt.wire.frames import make_frame
from tests.gateway.auth_helpers import Keys
from tests.gateway.helpers import T0_US, acc_frame, ecg_frame, edge_alert, event, fall_alert, uplink_body


def test_decimation_keeps_peaks_and_length():
    values = np.zeros(250, np.float32)
    values[101] = 5.0
    values[200] = -3.0
    out = decimate_peaks(values, 4)
    assert out.size == 63  # 62 full blocks and one partial
    assert 5.0 in out and -3.0 in out
    np.testing.assert_array_equal(decimate_peaks(values, 1), values)
    assert decimate_peaks(np.array([1.0, 2.0, 9.0], np.float32), 2).tolist() == [1.0, 9.0]


def test_frames_for_display_each_stream_kept_apart():
    ecg = frame_for_display(ecg_frame("p1", 0), ecg_hz=125, motion_hz=25)
    assert ecg is not None and len(ecg.v) == 125 and ecg.dt_us == 8000 and ecg.stream == "ecg"
    acc = frame_for_display(acc_frame("p1", 0), ecg_hz=125, motion_hz=25)
    assert acc is not None and len(acc.v) == 25 and acc.v[0] == pytest.approx(1.0) and acc.stream == "acc"
    # the emotion band's streams each keep their name (the page draws each in its own trace)
    ppg = frame_for_display(make_frame("p1", "ppg", 0, T0_US, 64.0, np.arange(64, dtype=np.int16)), 125, 25)
    assert ppg is not None and ppg.stream == "ppg" and ppg.dt_us == round(1e6 / 64)
    resp = frame_for_display(make_frame("p1", "resp", 0, T0_US, 100.0, np.ones(100, np.int16)), 125, 25)
    assert resp is not None and resp.stream == "resp" and len(resp.v) == 25
    eda = frame_for_display(make_frame("p1", "eda", 0, T0_US, 4.0, np.ones(4, np.int16)), 125, 25)
    assert eda is not None and eda.stream == "eda" and len(eda.v) == 4
    gyro = make_frame("p1", "gyro", 0, T0_US, 50.0, np.ones((50, 3), np.int16))
    assert frame_for_display(gyro, 125, 25) is None


async def test_a_slow_browser_queue_is_bounded_and_drops_oldest():
    dropped: list[int] = []
    hub = LiveHub(queue_messages=4, on_drop=dropped.append)
    slow, fast = hub.connect(), hub.connect()
    for i in range(100):
        hub.publish([f"m{i}"])
        if fast.queue.qsize():
            fast.queue.get_nowait()
    assert slow.queue.qsize() == 4 and slow.dropped == 96 and sum(dropped) == 96
    assert [slow.queue.get_nowait() for _ in range(4)] == ["m96", "m97", "m98", "m99"]
    assert fast.dropped == 0


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[RunningGateway]:
    config = GatewayConfig(port=0, db_path=tmp_path / "gw.sqlite", live=LiveConfig(queue_messages=8))
    async with running_gateway(config) as running:
        yield running


@pytest.fixture
def keys(gw: RunningGateway) -> Keys:
    return Keys(gw)


async def post(http: aiohttp.ClientSession, keys: Keys, body: bytes, node: str = "edge-1") -> None:
    async with http.post(f"{keys.gw.url}/api/v1/uplink", data=body, headers=keys.edge(node)) as r:
        assert r.status == 200


async def wait_for(predicate, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_websocket_pushes_decimated_waves_events_and_alerts(gw, keys):
    async with aiohttp.ClientSession(headers=keys.user("nurse", Role.CLINICIAN)) as http, \
            http.ws_connect(f"{gw.url}/api/v1/live") as ws:
        assert json.loads((await ws.receive(timeout=5)).data)["type"] == "hello"
        alert = fall_alert("p1")
        await post(http, keys, uplink_body(frames=[ecg_frame("p1", 0)], events=[event("p1"), alert]))
        got = {}
        while len(got) < 3:
            message = json.loads((await ws.receive(timeout=5)).data)
            got[message["type"]] = message
        wave = got["wave"]["frames"][0]
        assert (wave["device"], wave["stream"], len(wave["v"])) == ("p1", "ecg", 125)
        assert set(wave) == {"device", "stream", "seq", "t0_us", "dt_us", "v"}
        assert got["events"]["events"][0]["value"] == 72.0
        assert list(got["events"]["events"][0]) == [f.name for f in dataclasses.fields(Event)]
        assert got["alert"]["alert"]["event_id"] == alert.event_id and got["alert"]["alert"]["state"] == "raised"
        async with http.post(f"{gw.url}/api/v1/alerts/{alert.event_id}/acknowledge", json={"by": "nurse"}) as r:
            assert r.status == 200
        message = json.loads((await ws.receive(timeout=5)).data)
        assert message["alert"]["state"] == "acknowledged" and message["alert"]["acknowledged_by"] == "nurse"


async def test_an_edge_resolution_reaches_browsers_as_the_alert_it_closed(gw, keys):
    raised = edge_alert("p1", "run-9", AlertState.RAISED, T0_US, node="edge-4")
    resolved = edge_alert("p1", "run-9", AlertState.RESOLVED, T0_US + 3, node="edge-4")
    async with aiohttp.ClientSession() as http, \
            http.ws_connect(f"{gw.url}/api/v1/live", headers=keys.role(Role.VIEWER)) as ws:
        assert json.loads((await ws.receive(timeout=5)).data)["type"] == "hello"
        await post(http, keys, uplink_body(events=[raised]), node="edge-4")
        first = json.loads((await ws.receive(timeout=5)).data)
        assert (first["type"], first["alert"]["event_id"], first["alert"]["state"]) == ("alert", "run-9", "raised")
        await post(http, keys, uplink_body(events=[resolved]), node="edge-4")
        closed = json.loads((await ws.receive(timeout=5)).data)["alert"]
        assert (closed["event_id"], closed["state"], closed["resolved_by"]) == ("run-9", "resolved", "edge:edge-4")
        await post(http, keys, uplink_body(events=[raised, resolved]), node="edge-4")  # a redelivery: nothing to tell
        await post(http, keys, uplink_body(frames=[ecg_frame("p1", 0)]), node="edge-4")
        assert json.loads((await ws.receive(timeout=5)).data)["type"] == "wave"


async def test_a_browser_that_stops_reading_does_not_grow_memory_and_a_gone_one_is_removed(gw, keys):
    hub = gw.app[HUB]
    patients = [f"p{i:03d}" for i in range(100)]
    async with aiohttp.ClientSession() as http:
        stalled = await http.ws_connect(f"{gw.url}/api/v1/live", autoclose=False, max_msg_size=0,
                                        headers=keys.role(Role.VIEWER))
        stalled._response.connection.transport.pause_reading()  # a browser tab that froze
        await wait_for(lambda: len(hub.clients) == 1)
        for seq in range(150):
            await post(http, keys, uplink_body(frames=[ecg_frame(p, seq) for p in patients]))
            (client,) = hub.clients
            assert client.queue.qsize() <= 8
        assert client.dropped > 0
        stalled._response.connection.transport.abort()  # the tab is closed without a goodbye
        await wait_for(lambda: not hub.clients)
        await stalled.close()
