"""A small ward for the station's browser tests: the real gateway (SQLite, following the broker), a real
edge node on mosquitto with the released models, and scripted devices publishing ECG and vitals in real
time; vitals follow a course per patient (``t_s -> values``), the way the simulator's deterioration
courses will."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from edge.node import EdgeNode
from gateway.auth import Role
from gateway.config import GatewayConfig, StationConfig
from gateway.server import RunningGateway, running_gateway
from iomt.config import MqttConfig
from iomt.transport.mqtt import MqttBus
from iomt.wire import topics
from iomt.wire.frames import Reading, encode_reading
from tests.e2e.scripted import ScriptedDevice, publish_realtime
from tests.gateway.auth_helpers import Keys
from tests.integration.helpers import edge_config, enrol, start_edge

Course = Callable[[float], Mapping[str, float]]
NORMAL = {"hr": 72.0, "spo2": 97.0, "bp_sys": 125.0, "bp_dia": 80.0, "temp_c": 36.8, "resp_rate": 15.0}
KEEPALIVE_S = 5


@dataclass
class Ward:
    gw: RunningGateway
    node: EdgeNode
    bus: MqttBus
    site: str
    http: aiohttp.ClientSession
    keys: Keys
    threads: list[threading.Thread] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    edge_running: bool = True

    def stop_edge(self) -> None:
        """Stop the edge node the way an operator does (it announces "offline")."""
        if self.edge_running:
            self.edge_running = False
            self.node.stop(1.0)

    def publish(self, ecg: list[ScriptedDevice], vitals: Mapping[str, Course], seconds: float) -> int:
        """Start publishing; returns the start instant (µs). ECG frames and 1 Hz vitals until ``seconds``."""
        start_us = time.time_ns() // 1000 + 200_000
        if ecg:
            self.threads.append(publish_realtime(self.bus, self.site, ecg, start_us))
        thread = threading.Thread(target=self._vitals, args=(vitals, start_us, seconds), daemon=True)
        thread.start()
        self.threads.append(thread)
        return start_us

    def _vitals(self, courses: Mapping[str, Course], start_us: int, seconds: float) -> None:
        k = 0
        while k < seconds and not self.stop.is_set():
            due = start_us / 1e6 + k
            time.sleep(max(0.0, due - time.time()))
            for device, course in courses.items():
                reading = Reading(device, "vitals", k, start_us + k * 1_000_000, dict(course(float(k))))
                self.bus.publish(topics.data(self.site, device, "vitals"), encode_reading(reading))
            k += 1

    async def put(self, path: str, body: dict[str, Any], user: tuple[str, Role] = ("admin-ann", Role.ADMIN)
                  ) -> dict[str, Any]:
        """A PUT as ``user`` (name, role), an admin unless given."""
        async with self.http.put(f"{self.gw.url}{path}", json=body, headers=self.keys.user(*user)) as r:
            assert r.status == 200, await r.text()
            answer: dict[str, Any] = await r.json()
            return answer

    async def get(self, path: str) -> dict[str, Any]:
        """A GET as a viewer."""
        async with self.http.get(f"{self.gw.url}{path}", headers=self.keys.role(Role.VIEWER)) as r:
            assert r.status == 200, await r.text()
            answer: dict[str, Any] = await r.json()
            return answer


@asynccontextmanager
async def ward(tmp_path: Path, broker_url: str, station: StationConfig) -> AsyncIterator[Ward]:
    site = f"ward{uuid.uuid4().hex[:6]}"
    mqtt = MqttConfig(url=broker_url, keepalive_s=KEEPALIVE_S, reconnect_max_s=1.0)
    config = GatewayConfig(port=0, db_path=tmp_path / "gw.sqlite", mqtt=MqttConfig(url=broker_url), site=site,
                           station=station)
    async with running_gateway(config) as gw, aiohttp.ClientSession() as http:
        node = await start_edge(edge_config(tmp_path, mqtt, gw.url, site, uplink_token=enrol(gw, f"edge-{site}")))
        bus = MqttBus(mqtt, f"devices-{site}")
        await asyncio.to_thread(bus.start)
        w = Ward(gw, node, bus, site, http, Keys(gw))
        try:
            yield w
        finally:
            w.stop.set()
            for thread in w.threads:
                await asyncio.to_thread(thread.join, 60)
            await asyncio.to_thread(bus.stop)
            await asyncio.to_thread(w.stop_edge)
