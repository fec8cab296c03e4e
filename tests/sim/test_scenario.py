"""Scenario files: the default mix, and bad files failing with the line and field named."""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware_sim.devices import EcgPatch, EmotionBand, ImagingDevice, MotionWearable, VitalsMonitor
from firmware_sim.scenario import ScenarioError, build_devices, default_scenario, load_scenario
from iomt.config import MqttConfig
from iomt_app.cli import main

GOOD = """\
site = "ward-3"
seed = 7
duration_s = 30

[[patients]]
count = 2
condition = "af_paroxysmal"
ecg_hz = 360

[[patients]]
devices = ["emotion_band", "vitals"]

[[imaging]]
id = "us-1"

[[faults]]
type = "loss"
devices = ["patient-0002"]
probability = 0.1
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenario.toml"
    path.write_text(text)
    return path


def test_a_good_scenario_builds_its_devices(tmp_path: Path) -> None:
    scenario = load_scenario(_write(tmp_path, GOOD))
    devices = build_devices(scenario)
    kinds = [(d.device_id, type(d)) for d in devices]
    assert kinds == [
        ("patient-0001", EcgPatch), ("patient-0001", MotionWearable), ("patient-0001", VitalsMonitor),
        ("patient-0002", EcgPatch), ("patient-0002", MotionWearable), ("patient-0002", VitalsMonitor),
        ("patient-0003", EmotionBand), ("patient-0003", VitalsMonitor), ("us-1", ImagingDevice),
    ]
    ecg = devices[0]
    assert isinstance(ecg, EcgPatch) and ecg.fs == 360.0 and ecg.ecg.persona.condition == "af_paroxysmal"
    assert [d.device_id for d in devices if d.faults] == ["patient-0002"] * 3


def test_default_mix() -> None:
    devices = build_devices(default_scenario(10, seed=2))
    assert sum(isinstance(d, EcgPatch) for d in devices) == 8
    assert sum(isinstance(d, EmotionBand) for d in devices) == 2
    assert sum(isinstance(d, MotionWearable) for d in devices) == 10
    assert sum(isinstance(d, VitalsMonitor) for d in devices) == 10
    assert len({d.device_id for d in devices}) == 10


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("probability = 0.1", "probability = 1.5"),
         "line 19: faults[0].probability: Input should be less than or equal to 1"),
        (("type = \"loss\"", "type = \"meteor\""), "line 17: faults[0].type: Input tag 'meteor'"),
        (("condition = \"af_paroxysmal\"", "condition = \"zombie\""),
         "line 7: patients[0].condition: Value error, unknown condition 'zombie'"),
        (("count = 2", "cout = 2"), "line 6: patients[0].cout: Extra inputs are not permitted"),
        (("ecg_hz = 360", "ecg_hz = 300"), "line 8: patients[0].ecg_hz"),
        (("seed = 7", "seed = -1"), "line 2: seed: Input should be greater than or equal to 0"),
        (("devices = [\"emotion_band\", \"vitals\"]", "devices = [\"emotion_band\", \"ecg_patch\"]"),
         "line 11: patients[1].devices: Value error, a patient wears an ECG patch or an emotion band"),
        (("id = \"us-1\"", "id = \"bad id!\""), "line 14: imaging[0].id: Value error"),
        (("[[imaging]]", "[[imaging]"), "not valid TOML"),
    ],
)
def test_bad_scenarios_name_the_line_and_field(tmp_path: Path, change: tuple[str, str], expected: str) -> None:
    path = _write(tmp_path, GOOD.replace(*change))
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert expected in str(err.value)
    assert str(path) in str(err.value)


def test_toml_syntax_errors_give_the_line(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"line 3"):
        load_scenario(_write(tmp_path, 'site = "a"\nseed = 1\ncount = = 2\n'))


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "missing.toml")


def test_cli_reports_a_bad_scenario_and_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, GOOD.replace("probability = 0.1", "probability = 1.5"))
    assert main(["sim", "--scenario", str(path), "--broker", "mqtt://127.0.0.1:1"]) == 2
    assert "faults[0].probability" in capsys.readouterr().err


def test_scripted_schedule_and_wrist_placement(tmp_path: Path) -> None:
    import numpy as np

    from firmware_sim.scenario import Scenario

    def wearable(placement: str) -> MotionWearable:
        schedule = ["walking", "fall_forward", "lying", "get_up"]
        scenario = Scenario.model_validate({"patients": [{
            "devices": ["motion"], "placement": placement, "schedule": schedule}]})
        device = build_devices(scenario)[0]
        assert isinstance(device, MotionWearable)
        return device

    waist, wrist = wearable("waist"), wearable("wrist")
    # a fall is followed by at least 8 s lying (then the scripted "lying" and "get_up"): two minutes
    acc_w, gyro_w = waist.motion.render(50 * 120)
    _, gyro_r = wrist.motion.render(50 * 120)
    events = [(label, kind) for _, _, label, kind in waist.motion.pending_events]
    assert events[:2] == [("walking", "activity"), ("fall_forward", "activity")]
    assert ("fall_forward", "fall") in events and ("get_up", "activity") in events
    walk_end = waist.motion.pending_events[0][1]
    n = int(walk_end * 50)
    assert gyro_r[:n].std() > 2 * gyro_w[:n].std()  # the forearm swings
    assert np.linalg.norm(acc_w, axis=1).max() > 2.5  # the impact


def test_impossible_schedules_are_refused(tmp_path: Path) -> None:
    text = GOOD.replace("ecg_hz = 360", 'ecg_hz = 360\nschedule = ["walking", "get_up"]')
    with pytest.raises(ScenarioError) as err:
        load_scenario(_write(tmp_path, text))
    expected = "line 9: patients[0].schedule: Value error, item 1: 'get_up' cannot follow posture 'standing'"
    assert expected in str(err.value)


def test_iomt_sim_runs_a_scenario_through_mosquitto(tmp_path: Path, mqtt_config: MqttConfig) -> None:
    import json
    import subprocess
    import sys

    scenario = _write(tmp_path, """\
site = "cli-test"
seed = 4
duration_s = 2.5

[[patients]]
count = 2
schedule = ["walking", "fall_sideways"]

[[faults]]
type = "lead_off"
devices = ["patient-0002"]
streams = ["ecg"]
start_s = 1
""")
    report, truth = tmp_path / "report.json", tmp_path / "truth.jsonl"
    command = [sys.executable, "-m", "iomt_app", "sim", "--scenario", str(scenario), "--broker", mqtt_config.url,
               "--report", str(report), "--truth", str(truth)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    published = json.loads(report.read_text())
    assert published["streams"]["patient-0001/ecg"] == 5
    assert published["streams"]["patient-0002/gyro"] == 4  # staggered by 0.25 s
    events = [json.loads(line) for line in truth.read_text().splitlines()]
    kinds = {(e["device"], e["kind"], e["label"]) for e in events}
    assert ("patient-0002", "device", "lead_off") in kinds
    assert ("patient-0001", "activity", "walking") in kinds
    assert any(e["kind"] == "beat" for e in events)
