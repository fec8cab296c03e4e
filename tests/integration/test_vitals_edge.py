"""A vitals monitor's readings through a real mosquitto to a real edge node running the released vitals
model (LiteRT), whose risk events and alerts reach a real gateway's store (SQLite): a compressed
sepsis course (simulated patient) raises a high-priority vitals risk alert, and every reading is stored."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from pathlib import Path

import numpy as np

from edge.stats import node_stats
from firmware_sim.deterioration import Course, CoursePlan
from firmware_sim.persona import make_persona
from firmware_sim.rates import REALISTIC
from firmware_sim.vitals import VitalsGenerator
from gateway.config import GatewayConfig
from gateway.server import running_gateway
from gateway.store.records import AlertQuery, EventQuery, Table
from iomt.config import MqttConfig
from iomt.transport.mqtt import MqttBus
from iomt.wire import topics
from iomt.wire.events import EventKind, Priority
from iomt.wire.frames import Reading, encode_reading
from tests.integration.helpers import T0_US, edge_config, enrol, start_edge, wait_until


async def test_a_compressed_sepsis_course_reaches_the_gateway_as_a_vitals_risk_alert(
    tmp_path: Path, mqtt_config: MqttConfig
) -> None:
    site = f"vit{uuid.uuid4().hex[:8]}"
    course = Course("sepsis", 300.0, 600.0, forced=True)  # 5 min stable, 10 min onset to worst
    quiet = replace(REALISTIC, deteriorations_per_patient_hour=0.0)
    plan = CoursePlan(quiet, np.random.default_rng(4), forced=[course])
    generator = VitalsGenerator(make_persona(5, 4, condition="normal"), np.random.default_rng(5), plan)
    t = np.arange(0.0, course.peak_end_s)
    measured = generator.render(t).measured
    async with running_gateway(GatewayConfig(port=0, db_path=tmp_path / "gateway.sqlite")) as gateway:
        token = enrol(gateway, f"edge-{site}")
        node = await start_edge(
            edge_config(tmp_path, mqtt_config, gateway.url, site, models=("vitals",), uplink_token=token)
        )
        publisher = await asyncio.to_thread(lambda: MqttBus(mqtt_config, f"pub-{site}").start())
        try:
            for seq, (ts, row) in enumerate(zip(t, measured, strict=True)):  # faster than real time: device times
                values = generator.reading_values(row, float(ts))
                reading = Reading("bed-7", "vitals", seq, T0_US + round(ts * 1e6), values)
                publisher.publish(topics.data(site, "bed-7", "vitals"), encode_reading(reading))

            def high_alert() -> bool:
                alerts = gateway.store.alerts(AlertQuery(device="bed-7", priority=Priority.HIGH))
                return any(a.event.label == "vitals_risk_high" for a in alerts)

            await wait_until(high_alert, 30, "the vitals risk alert at the gateway")
            await wait_until(lambda: node.outbox.depth() == 0, 15, "the outbox to drain")
            windows = int(t[-1] // 60)
            assert node_stats(node, 1.0)["pipelines"]["vitals"] == {
                "patients": 1, "windows": windows, "unscored": 0, "rejected_readings": 0, "clock_restarts": 0}
        finally:
            await asyncio.to_thread(publisher.stop)
            await asyncio.to_thread(node.stop, 1.0)
        store = gateway.store
        assert store.stored_sequences("bed-7", "vitals") == list(range(len(t)))  # every reading forwarded
        assert store.count(Table.READINGS) == 2 * len(t)  # and the gateway's NEWS2 of each (gateway.station)
        scored = store.events(EventQuery(device="bed-7", kind=EventKind.INFERENCE, model="vitals", limit=1000))
        assert len(scored) == windows  # one a minute of device time
        assert {e.label for e in scored if e.t_us < T0_US + course.start_s * 1e6} <= {"none", "low"}
        (alert,) = [a for a in store.alerts(AlertQuery(device="bed-7")) if a.event.label == "vitals_risk_high"]
        assert alert.event.node == f"edge-{site}" and alert.event.model_version == "1.0.0"
        assert course.start_s * 1e6 < alert.event.t_us - T0_US <= course.peak_end_s * 1e6
