"""The registry's HTTP API driving a real mosquitto with the dynamic security plugin: a device
enrolled through the gateway's API connects and publishes its own data (and nothing else); revoked
through the API it is disconnected and refused at once, by the same running broker (no restart)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gateway.auth import Role
from gateway.config import GatewayConfig
from gateway.registry.config import RegistryConfig
from gateway.registry.dynsec import DynsecDriver
from gateway.server import running_gateway
from iomt.transport import TransportError
from iomt.transport.mqtt import MqttBus
from iomt.wire import topics
from tests.gateway.auth_helpers import Keys
from tests.security.conftest import start_secured, subscriber

API = "/api/v1/registry/identities"


def _wait_disconnected(bus: MqttBus, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while bus.connected and time.monotonic() < deadline:
        time.sleep(0.02)
    return not bus.connected


async def test_enrol_and_revoke_through_the_api_reach_a_running_mosquitto(tmp_path: Path) -> None:
    broker = start_secured("mosquitto", tmp_path / "broker")
    buses: list[MqttBus] = []
    try:
        driver = broker.registry.broker
        assert isinstance(driver, DynsecDriver)
        pid = broker.process.pid
        registry = RegistryConfig(path=tmp_path / "broker" / "registry.sqlite",
                                  key_file=tmp_path / "broker" / "registry.key", broker="dynsec", dynsec=driver.admin)
        config = GatewayConfig(port=0, db_path=tmp_path / "gw.sqlite", registry=registry)
        async with running_gateway(config) as gw, aiohttp.ClientSession() as http:
            admin = Keys(gw).role(Role.ADMIN)

            async def post(path: str, body: dict[str, Any]) -> tuple[int, Any]:
                async with http.post(f"{gw.url}{API}{path}", json=body, headers=admin) as r:
                    return r.status, await r.json()

            status, device = await post("", {"name": "dev-api", "site": "s1"})
            assert status == 201, device
            status, edge = await post("", {"name": "edge-api", "kind": "edge", "site": "s1"})
            assert status == 201, edge

            observer, inbox = await asyncio.to_thread(
                subscriber, broker.config("edge-api", edge["mqtt_password"]), topics.data_filter("s1"))
            buses.append(observer)
            bus = await asyncio.to_thread(
                MqttBus(broker.config("dev-api", device["mqtt_password"]), "client-dev-api").start, 10)
            buses.append(bus)
            own, foreign, marker = (topics.data("s1", "dev-api", "ecg"), topics.data("s1", "dev-other", "ecg"),
                                    topics.data("s1", "dev-api", "acc"))
            await asyncio.to_thread(lambda: bus.publish(own, b"before").wait(5))
            assert await asyncio.to_thread(inbox.wait_for, own), "the enrolled device's own data never arrived"
            await asyncio.to_thread(lambda: bus.publish(foreign, b"forged").wait(5))
            await asyncio.to_thread(lambda: bus.publish(marker, b"marker").wait(5))
            assert await asyncio.to_thread(inbox.wait_for, marker)
            assert foreign not in inbox.topics(), "a device must not publish another device's topic"

            status, revoked = await post("/dev-api/revoke", {})
            assert status == 200 and revoked["status"] == "revoked", revoked
            assert await asyncio.to_thread(_wait_disconnected, bus), \
                "revoked through the API, the device must be disconnected without restarting the broker"
            late = topics.data("s1", "dev-api", "spo2")
            bus.publish(late, b"after")  # queued; its reconnects are refused
            await asyncio.sleep(1.5)  # a reconnect attempt (reconnect_max_s is 1 s)
            assert not bus.connected and late not in inbox.topics()
            with pytest.raises(TransportError, match=r"(?i)refused the connection"):
                await asyncio.to_thread(
                    MqttBus(broker.config("dev-api", device["mqtt_password"]), "again").start, 10)
            assert observer.connected, "revoking the device must not disturb the edge"
            assert broker.process.running and broker.process.pid == pid, "the broker was not restarted"
    finally:
        for b in buses:
            b.stop()
        broker.process.stop()
