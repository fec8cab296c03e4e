"""Edge availability and dead letters arrive over a real mosquitto and show up in the edges API."""

from __future__ import annotations

import asyncio
import time

import aiohttp

from gateway.auth import Role
from iomt.config import MqttConfig
from iomt.transport.mqtt import MqttBus
from iomt.wire import topics
from iomt.wire.deadletter import encode_deadletter, make_deadletter
from tests.gateway.auth_helpers import Keys


async def edges(url: str, headers: dict[str, str]) -> dict[str, str]:
    async with aiohttp.ClientSession(headers=headers) as http, http.get(f"{url}/api/v1/edges") as r:
        return {e["node"]: e["status"] for e in (await r.json())["edges"]}


async def eventually(check, timeout_s: float = 10.0):
    deadline = time.monotonic() + timeout_s
    while True:
        value = await check()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_edges_go_online_and_offline_from_their_availability_topic(gateway, mosquitto):
    node = f"edge-{time.monotonic_ns() % 10**9}"
    viewer = Keys(gateway).role(Role.VIEWER)
    with MqttBus(MqttConfig(url=mosquitto.url), client_id=f"test-{node}") as bus:
        bus.publish(topics.availability("ward-7", node), b"online", retain=True).wait(5)
        await eventually(lambda: _status_is(gateway.url, node, "online", viewer))
        bus.publish(topics.availability("ward-7", node), b"offline", retain=True).wait(5)
        await eventually(lambda: _status_is(gateway.url, node, "offline", viewer))
        letter = make_deadletter("iomt/v1/ward-7/p1/ecg", "seq", "not an integer", node, 1, b"{}")
        bus.publish(topics.deadletter("ward-7", node), encode_deadletter(letter)).wait(5)
        await eventually(lambda: asyncio.to_thread(lambda: gateway.store.count("deadletters") == 1))
        bus.publish(topics.availability("ward-7", node), b"", retain=True).wait(5)


async def _status_is(url: str, node: str, status: str, headers: dict[str, str]) -> bool:
    return (await edges(url, headers)).get(node) == status
