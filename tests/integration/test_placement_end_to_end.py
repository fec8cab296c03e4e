"""A replayed motion recording declares its placement (``iomt replay --placement``) on its retained
descriptor; through a real mosquitto it reaches a real edge node running the released fall model
(LiteRT), whose events carry it, and a real gateway, whose patient and station views show it. A
placement the fall model was not validated for is not analysed, and the gateway hears why."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import numpy as np

from gateway import views
from gateway.config import GatewayConfig
from gateway.server import running_gateway
from gateway.store.records import AlertQuery, EventQuery
from iomt.config import MqttConfig
from iomt.wire.events import EventKind
from iomt_app.cli import main
from tests.edge.test_fall_pipeline import FS, SIDE, UP, Recording
from tests.integration.helpers import edge_config, enrol, start_edge, wait_until


def write_recording(path: Path) -> Path:
    """A person standing, then an impact of 3.5 g turning to lie on the side, then lying (g, deg/s)."""
    rec = Recording(seed=3).hold(UP, 8).fall(UP, SIDE).hold(SIDE, 10)
    acc, gyro = np.concatenate(rec.acc), np.concatenate(rec.gyro)
    rows = "t,acc_x[g],acc_y[g],acc_z[g],gyro_x[deg/s],gyro_y[deg/s],gyro_z[deg/s]\n"
    rows += "".join(f"{i / FS:.3f}," + ",".join(f"{v:.5f}" for v in (*a, *g)) + "\n"
                    for i, (a, g) in enumerate(zip(acc, gyro, strict=True)))
    path.write_text(rows)
    return path


async def test_a_replayed_devices_placement_reaches_the_edges_events_and_the_gateway(
    tmp_path: Path, mqtt_config: MqttConfig
) -> None:
    site = f"plc{uuid.uuid4().hex[:8]}"
    recording = write_recording(tmp_path / "fall.csv")
    async with running_gateway(GatewayConfig(port=0, db_path=tmp_path / "gateway.sqlite")) as gateway:
        token = enrol(gateway, f"edge-{site}")
        node = await start_edge(edge_config(tmp_path, mqtt_config, gateway.url, site, models=("fall",),
                                            uplink_token=token))
        store = gateway.store
        try:
            for device, placement in (("hip-1", "waist"), ("ankle-1", "ankle")):
                code = await asyncio.to_thread(main, [
                    "replay", str(recording), "--kind", "motion", "--broker", mqtt_config.url, "--site", site,
                    "--device", device, "--placement", placement, "--fast"])
                assert code == 0

            def fall_events(device: str) -> list:
                return store.events(EventQuery(device=device, model="fall", limit=100))

            await wait_until(lambda: any(e.kind == EventKind.INFERENCE for e in fall_events("hip-1")), 30,
                             "the fall model's inference event for the waist-worn device at the gateway")
            await wait_until(lambda: bool(fall_events("ankle-1")), 30, "the ankle device's fall event")
            await wait_until(lambda: node.outbox.depth() == 0, 15, "the outbox to drain")
        finally:
            await asyncio.to_thread(node.stop, 1.0)
        hip = fall_events("hip-1")
        assert hip and all(e.detail["placement"] == "waist" and "placement_note" not in e.detail for e in hip)
        assert any(e.kind == EventKind.INFERENCE and e.model_version == "1.1.0" for e in hip)
        [refused] = fall_events("ankle-1")  # not analysed: one event saying why, nothing else
        assert refused.kind == EventKind.QUALITY and refused.label == "placement_not_supported"
        assert refused.detail["reason"].startswith("fall not analysed: placement ankle not supported by fall 1.1.0")
        [alarm] = store.alerts(AlertQuery(device="ankle-1"))  # the station's technical alarm
        assert alarm.event.label == "fall_not_analysed" and alarm.event.detail["category"] == "technical"
        shown = {p.device: p.placement for p in views.patients(store)}
        assert shown == {"hip-1": "waist", "ankle-1": "ankle"}
        [described] = store.events(EventQuery(device="hip-1", model="descriptor"))
        assert described.detail == {"declared": True, "placement": "waist", "acc_unit": "g", "gyro_unit": "deg/s",
                                    "axes": "sensor"}
