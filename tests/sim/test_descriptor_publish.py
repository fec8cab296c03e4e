"""Simulated and replayed devices declare their motion sensor's placement on their retained descriptor
topic, before their first frame (an in-memory bus: pure logic; the real broker path is in
tests/integration/test_placement_end_to_end.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from firmware_sim.fleet import Fleet
from firmware_sim.replay import ReplayDevice, ReplayError, load
from firmware_sim.scenario import Scenario, build_devices
from iomt.wire import topics
from iomt.wire.descriptor import GyroUnit, Placement, decode_descriptor
from tests.sim.test_faults import MemoryBus


class RetainingBus(MemoryBus):
    def __init__(self) -> None:
        super().__init__()
        self.retained: list[str] = []

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False):  # type: ignore[no-untyped-def]
        if retain:
            self.retained.append(topic)
        return super().publish(topic, payload, qos, retain)


def test_a_simulated_wearable_declares_its_personas_placement_before_its_first_frame() -> None:
    scenario = Scenario.model_validate({"seed": 1, "patients": [
        {"devices": ["motion", "ecg_patch"], "placement": "wrist"}]})
    devices = build_devices(scenario)
    streams = [s for d in devices for s in d.sources]
    bus = RetainingBus()
    report = Fleet(bus, "s", streams, seed=1).run(1.0, realtime=False)
    device = streams[0].device
    first_topic, first_payload = bus.messages[0]
    assert first_topic == topics.descriptor("s", device) and bus.retained == [first_topic]
    assert decode_descriptor(first_payload).placement is Placement.WRIST
    assert report.published == len(bus.messages) - 1  # the descriptor is not a frame


def _csv(path: Path, gyro: bool = True) -> Path:
    head = "t,acc_x,acc_y,acc_z" + (",gyro_x,gyro_y,gyro_z" if gyro else "") + "\n"
    path.write_text(head + "".join(f"{i / 50:.2f},0,0,1" + (",0,0,0" if gyro else "") + "\n" for i in range(200)))
    return path


def test_a_replay_declares_the_given_placement_or_its_sidecars(tmp_path: Path) -> None:
    rec = _csv(tmp_path / "walk.csv")
    loaded = load(rec, "motion", acc_unit="g", gyro_unit="deg/s", placement="ankle")
    d = ReplayDevice("r1", loaded, np.random.default_rng(0)).descriptor()
    assert d is not None and d.placement is Placement.ANKLE and d.motion is not None
    assert d.motion.gyro_unit is GyroUnit.DEG_S
    assert load(rec, "motion", acc_unit="g", gyro_unit="deg/s").placement is Placement.UNKNOWN
    (tmp_path / "walk.json").write_text('{"placement": "lower_back"}')
    assert load(rec, "motion", acc_unit="g", gyro_unit="deg/s").placement is Placement.LOWER_BACK
    with pytest.raises(ReplayError, match="states placement 'lower_back' but 'wrist' was given"):
        load(rec, "motion", acc_unit="g", gyro_unit="deg/s", placement="wrist")
    (tmp_path / "walk.json").write_text('{"placement": "elbow"}')
    with pytest.raises(ReplayError, match="placement: 'elbow' is not one of waist"):
        load(rec, "motion", acc_unit="g", gyro_unit="deg/s")
    no_gyro = load(_csv(tmp_path / "acc.csv", gyro=False), "motion", acc_unit="g", placement="waist")
    d = ReplayDevice("r2", no_gyro, np.random.default_rng(0)).descriptor()
    assert d is not None and d.motion is not None and d.motion.gyro_unit is None


def test_an_ecg_replay_declares_nothing(tmp_path: Path) -> None:
    (tmp_path / "e.csv").write_text("t,ecg\n" + "".join(f"{i / 250:.3f},0.1\n" for i in range(500)))
    loaded = load(tmp_path / "e.csv", "ecg")
    assert loaded.placement is None and ReplayDevice("e1", loaded, np.random.default_rng(0)).descriptor() is None
