"""Each real-source loader converts from the units its source states, on files laid out like theirs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cloud import real_motion

G = real_motion.G_MS2


def _mobgap(root: Path) -> None:
    d = root / "mobgap-1.2.0/example_data/data_csv/MS/001"
    d.mkdir(parents=True)
    rows = "samples,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z\n" + "".join(f"{i},1.0,0,0,0,0,5.0\n" for i in range(300))
    (d / "TimeMeasure1_Test5_Trial1.csv").write_text(rows)


def _gaitpy(root: Path) -> None:
    d = root / "gaitpy/demo"
    d.mkdir(parents=True)
    head = ["Device Type,GENEActiv"] * 99
    head[10] = "Measurement Frequency,50.0 Hz"
    head[53], head[58], head[63] = "Units,g", "Units,g", "Units,g"
    rows = [f"2019-08-06 10:25:50:{i:03d},0.0,0.0,1.0,0,0,31.6" for i in range(100)]
    (d / "demo_data.csv").write_text("\n".join(head + rows) + "\n")


def _gaitmap(root: Path) -> None:
    d = root / "gaitmap-2.6.0/example_data"
    d.mkdir(parents=True)
    cols = pd.MultiIndex.from_product([["left_sensor", "right_sensor"],
                                       ["acc_x", "acc_y", "acc_z", "gyr_x", "gyr_y", "gyr_z"]])
    frame = pd.DataFrame(np.tile([0, 0, G, 0, 0, 90.0] * 2, (50, 1)), columns=cols)
    frame.to_csv(d / "imu_sample_healthy_stair_up.csv")


def _kse801(root: Path) -> None:
    d = root / "kse801/res/crowdsignal"
    d.mkdir(parents=True)
    t0 = 1.454956e12
    for device in ("phone", "smartwatch"):
        t = t0 + np.arange(0, 70_000, 5.0)  # 70 s at 200 Hz, in ms
        pd.DataFrame({"timestamps": t, "x": 0.0, "y": 0.0, "z": G}).to_pickle(d / f"accelerometer_{device}.pkl.gz")
        pd.DataFrame({"timestamps": t, "x": 0.0, "y": 0.0, "z": 1.0}).to_pickle(d / f"gyroscope_{device}.pkl.gz")
    pd.DataFrame({"label": ["On Table"], "label_start": [t0 + 10_000], "label_end": [t0 + 20_000]}).to_pickle(
        d / "labels.pkl.gz")


def _daphnet(root: Path) -> None:
    d = root / "aeon/datasets/data/Daphnet_S06R02E0"
    d.mkdir(parents=True)
    stamps = pd.date_range("1970-01-01 00:04:40", periods=640, freq="15625us")
    parts = {f"{p}_{a}": (1000.0 if a == "vert" else 0.0) for p in ("ankle", "leg", "trunk")
             for a in ("horiz_fwd", "vert", "horiz_lateral")}
    pd.DataFrame({"timestamp": stamps.strftime("%Y-%m-%d %H:%M:%S.%f"), **parts, "is_anomaly": 0}).to_csv(
        d / "S06R02E0.csv", index=False)


def test_every_loader_returns_g_and_deg_per_s_from_the_stated_units(tmp_path: Path):
    root = tmp_path / "x"
    for make in (_mobgap, _gaitpy, _gaitmap, _kse801, _daphnet):
        make(root)
    recs = {r.name: r for r in real_motion.load_all(tmp_path)}
    mob = recs["mobgap/MS001/Test5_Trial1"]
    assert (mob.rate_hz, mob.placement, mob.use) == (100.0, "lower_back", "heldout")
    assert np.allclose(mob.acc[0], [1, 0, 0]) and mob.gyro is not None and np.allclose(mob.gyro[0], [0, 0, 5])
    gp = recs["gaitpy/demo"]
    assert gp.rate_hz == 50.0 and gp.gyro is None and np.allclose(gp.acc[:, 2], 1.0) and len(gp.acc) == 100
    foot = recs["gaitmap/imu_sample_healthy_stair_up/left"]
    assert foot.rate_hz == 204.8 and np.allclose(foot.acc[0], [0, 0, 1]) and foot.gyro is not None
    assert np.allclose(foot.gyro[0], [0, 0, 90])
    phone = recs["kse801/phone/part0"]
    assert phone.rate_hz == 200.0 and np.allclose(phone.acc[0], [0, 0, 1])
    assert phone.gyro is not None and np.allclose(phone.gyro[0], [0, 0, np.degrees(1.0)])
    assert phone.labels == ((10.0, 20.0, "on_table"),) and recs["kse801/smartwatch/part0"].placement == "wrist"
    trunk = recs["daphnet/S06R02E0/trunk"]
    assert trunk.rate_hz == 64.0 and trunk.placement == "waist" and np.allclose(trunk.acc[0], [0, 1, 0])


def test_a_gaitpy_file_whose_header_states_other_units_is_refused(tmp_path: Path):
    _gaitpy(tmp_path / "x")
    f = tmp_path / "x/gaitpy/demo/demo_data.csv"
    f.write_text(f.read_text().replace("Units,g", "Units,mg", 1))
    with pytest.raises(ValueError, match="expected accelerometer units g"):
        real_motion.load_all(tmp_path)


def test_nothing_fetched_is_a_clear_error(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="fetch_real_data"):
        real_motion.load_all(tmp_path)
