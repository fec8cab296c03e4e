"""Real EDA/PPG/ECG recordings for the emotion model: loaders on files laid out like the packages'
(filled with simulated signals in each source's units: ADC counts, 8-bit, pickled float lists), the
refusal of reserved files and of pickles that would run code, and ``evaluate_emotion`` on them with
the released model: invariance to units through the wire, saturation, 'not analysed' reasons."""

from __future__ import annotations

import pickle
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from cloud.real_emotion import recordings, sources
from cloud.real_emotion.evaluate import evaluate_emotion
from cloud.real_motion import Source
from firmware_sim.emotion import RATES, EmotionStream
from firmware_sim.persona import make_persona
from firmware_sim.replay import resample
from models.runtime import released_paths

SECONDS = 150.0


def _band(seconds: float = SECONDS) -> dict[str, np.ndarray]:
    stream = EmotionStream(make_persona(21, 3), np.random.default_rng(3), cycle_s=300.0)
    return {k: v[:, 0].astype(np.float64) for k, v in stream.render(seconds).items()}


def fake_cache(root: Path) -> Path:
    """``root`` laid out as :func:`cloud.real_emotion.sources.fetch` leaves it, with simulated signals
    written in the formats and units of each package's real file."""
    band = _band()
    x = root / "x"

    def at(rate: float, signal: str) -> np.ndarray:
        return resample(band[signal][:, None], RATES[signal], rate)[:, 0]

    pys = x / "pysiology" / "data"
    pys.mkdir(parents=True)
    (pys / "convertedECG.pkl").write_bytes(pickle.dumps([float(v) for v in at(1000.0, "ecg")]))
    (pys / "convertedEDA.pkl").write_bytes(pickle.dumps([float(v) for v in at(1000.0, "eda")]))
    heart = x / "heartpy" / "data"
    heart.mkdir(parents=True)
    ppg = np.round(512 + 150 * at(100.0, "ppg"))  # 10-bit ADC counts
    (heart / "data.csv").write_text("\n".join(f"{v:g}" for v in ppg[:2500]) + "\n")
    (heart / "data2.csv").write_text("timer,hr\n" + "\n".join(f"{i * 10.0:.1f},{v:g}" for i, v in enumerate(ppg)))
    t0 = datetime(2016, 11, 24, 13, 58, 58)
    stamps = [t0 + timedelta(milliseconds=15 * (i // 1.5)) for i in range(len(ppg))]  # a clock that ticks in 15 ms
    (heart / "data3.csv").write_text("datetime,hr\n" + "\n".join(f"{s.isoformat(sep=' ')},{v:g}"
                                                                  for s, v in zip(stamps, ppg, strict=True)))
    systole = x / "systole-0.3.1" / "src" / "systole" / "datasets"
    systole.mkdir(parents=True)
    np.save(systole / "ppg.npy", np.clip(np.round(120 + 60 * at(75.0, "ppg")), 0, 255).astype(np.int32))
    bit = x / "biosppy-0.8.0" / "examples"
    bit.mkdir(parents=True)
    header = "# Simple Text Format\n# Sampling Rate (Hz):= 1000.00\n# Resolution:= 12\n# Labels:= EDA\n"
    (bit / "eda.txt").write_text(header + "\n".join(f"{v:.1f}" for v in np.round(2000 + 300 * at(1000.0, "eda"))))
    return root


def test_loaders_read_each_format_in_its_own_units(tmp_path: Path) -> None:
    recs = {r.name: r for r in recordings.load_all(fake_cache(tmp_path))}
    assert set(recs) == {"pysiology/sample", "heartpy/data", "heartpy/data2", "heartpy/data3", "systole/ppg",
                         "biosppy/eda"}
    assert recs["pysiology/sample"].rates == {"ecg": 1000.0, "eda": 1000.0}
    assert recs["heartpy/data2"].rates["ppg"] == pytest.approx(100.0)
    assert recs["heartpy/data3"].rates["ppg"] == pytest.approx(100.0, rel=0.01)  # from the span, not the ticks
    assert recs["systole/ppg"].rates == {"ppg": 75.0} and recs["systole/ppg"].signals["ppg"].max() <= 255
    assert recs["biosppy/eda"].rates == {"eda": 1000.0} and recs["biosppy/eda"].signals["eda"].min() > 1000
    assert recs["pysiology/sample"].seconds == pytest.approx(SECONDS, abs=0.01)
    mixed = recordings.composites(list(recs.values()))
    assert {m.name for m in mixed} == {f"pysiology/sample:ecg + pysiology/sample:eda + {p}:ppg"
                                       for p in ("heartpy/data2", "heartpy/data3", "systole/ppg")}
    assert all(m.composite and set(m.signals) == {"ecg", "eda", "ppg"} for m in mixed)


def test_recordings_a_user_points_at_load_from_csv_and_wfdb(tmp_path: Path) -> None:
    import wfdb

    band = _band(70.0)
    ppg = resample(band["ppg"][:, None], RATES["ppg"], 250.0)[:, 0] * 400 + 2048
    eda = resample(band["eda"][:, None], RATES["eda"], 250.0)[:, 0]
    rows = zip(np.arange(len(ppg)) / 250.0, band["ecg"][: len(ppg)], eda[: len(ppg)], ppg, strict=False)
    (tmp_path / "band.csv").write_text("t,ECG,GSR,BVP\n" + "\n".join(",".join(f"{v:.6f}" for v in r) for r in rows))
    signals = np.stack([band["ecg"][: len(ppg)], ppg], axis=1)
    wfdb.wrsamp("band2", fs=250.0, units=["mV", "adu"], sig_name=["ECG", "PPG"], p_signal=signals,
                fmt=["16", "16"], write_dir=str(tmp_path))
    (tmp_path / "notes.txt").write_text("not a recording")
    recs = recordings.from_files(sorted(tmp_path.iterdir()))
    assert [Path(r.name).name for r in recs] == ["band.csv", "band2.hea"]
    assert set(recs[0].signals) == {"ecg", "eda", "ppg"} and recs[0].rates["ppg"] == pytest.approx(250.0)
    assert set(recs[1].signals) == {"ecg", "ppg"} and recs[1].seconds == pytest.approx(70.0, abs=0.01)
    np.testing.assert_allclose(recs[0].signals["ppg"], ppg, atol=1e-5)


def test_a_pickle_that_would_run_code_is_refused(tmp_path: Path) -> None:
    root = fake_cache(tmp_path)
    (root / "x" / "pysiology" / "data" / "convertedEDA.pkl").write_bytes(pickle.dumps([datetime(2020, 1, 1)]))
    with pytest.raises(pickle.UnpicklingError, match=r"refusing datetime\.datetime"):
        recordings.pysiology_recording(root)


def test_reserved_recordings_are_never_fetched(tmp_path: Path) -> None:
    task1 = Source("systole", "systole", "0.3.1", "sdist", ("systole-0.3.1/src/systole/datasets/Task1_EDA.npy",),
                   "", "", "", "eval")
    with pytest.raises(ValueError, match="reserved for the team's validation"):
        sources.fetch(tmp_path, (task1,))
    assert not any(tmp_path.iterdir())  # refused before anything was downloaded
    assert all(r not in m for s in sources.SOURCES for m in s.members for r in sources.RESERVED)


def test_evaluate_emotion_on_recordings_in_their_own_units(tmp_path: Path) -> None:
    recs = recordings.load_all(fake_cache(tmp_path))
    mixed = recordings.composites(recs)
    tflite, _ = released_paths("emotion")
    report = evaluate_emotion(tflite, [r for r in recs if r.name in ("pysiology/sample", "systole/ppg")] + mixed[:1])
    by_name = {r["recording"]: r for r in report["real"]["recordings"]}
    assert by_name["pysiology/sample"]["not_analysed"] == {"emotion not analysed: no PPG": 7}
    assert by_name["systole/ppg"]["not_analysed"] == {"emotion not analysed: no EDA": 7}
    [composite] = [r for r in report["real"]["recordings"] if r["composite"]]
    assert composite["outputs"]["windows"] == 7 and composite["labels"] == "none: distribution only"
    assert {(tuple(c["channels"]), c["gain"]) for c in composite["invariance"]} == {
        (ch, g) for ch in (("ppg",), ("eda",), ("ppg", "eda")) for g in (0.01, 0.1, 10.0, 100.0)}
    floors = report["floors"]
    assert all(f["pass"] is not None for f in floors.values())  # every floor measured
    inv = report["real"]["invariance"]
    assert inv["flips"] == sum(c["flips"] for c in composite["invariance"])
    assert inv["max_probability_change"] == max(c["max_probability_change"] for c in composite["invariance"]) < 0.05
    clear = floors["real: class flips under those gains where the top two classes are > 0.1 apart"]
    assert clear["value"] == 0 and clear["pass"]
    assert report["simulated"]["holdout"]["data"].startswith("simulated")
    assert report["floors_pass"] == all(f["pass"] for f in floors.values())
