"""``iomt eval emotion``'s evaluator in the shared registry (:data:`cloud.real_eval.REAL_EVALUATORS`): the
released ``.tflite`` alone on a folder of recordings (simulated band signals written as a user's CSV in
ADC counts), its report files, its floors (a folder with nothing analysable fails rather than passes on
nothing) and the clear refusals of a missing or empty folder and of an empty cache."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cloud.real_emotion.evaluate import ANALYSED_FLOOR, main
from cloud.real_eval import REAL_EVALUATORS, evaluate_real
from firmware_sim.emotion import RATES
from firmware_sim.replay import resample
from models.runtime import released_paths
from tests.cloud.test_real_emotion import _band

RATE = 250.0


def write_band_csv(path: Path, seconds: float, *, ppg: bool = True) -> None:
    """A band's ECG (mV), EDA (microsiemens) and PPG (12-bit ADC counts) at 250 Hz, as a user exports it."""
    band = _band(seconds)
    n = int(seconds * RATE)
    columns = {"t": np.arange(n) / RATE, "ECG": band["ecg"][:n],
               "GSR": resample(band["eda"][:, None], RATES["eda"], RATE)[:n, 0]}
    if ppg:
        columns["BVP"] = resample(band["ppg"][:, None], RATES["ppg"], RATE)[:n, 0] * 400 + 2048
    rows = zip(*columns.values(), strict=True)
    path.write_text(",".join(columns) + "\n" + "\n".join(",".join(f"{v:.6f}" for v in r) for r in rows) + "\n")


def test_emotion_is_registered_and_evaluates_a_folder_with_the_released_model_alone(tmp_path: Path) -> None:
    assert "emotion" in REAL_EVALUATORS
    folder = tmp_path / "recordings"
    (folder / "ward").mkdir(parents=True)
    write_band_csv(folder / "ward" / "band.csv", 80.0)
    tflite, _ = released_paths("emotion")
    result = evaluate_real("emotion", tflite, folder, tmp_path / "report")
    assert result.model == "emotion"
    real = result.figures["real"]
    assert real["windows_analysed"] == 2 and real["labels"].startswith("none exist")  # windows at 0 s and 15 s
    [rec] = real["recordings"]
    assert rec["recording"].endswith("band.csv") and not rec["composite"] and rec["not_analysed"] == {}
    assert result.floors[ANALYSED_FLOOR] is True
    measured = {n for n, f in result.figures["floors"].items() if f["pass"] is not None}
    assert ANALYSED_FLOOR in measured and measured == set(result.floors)
    assert any(n.startswith("real: largest class-probability change") for n in result.floors)
    assert result.passed == all(result.floors.values())
    written = json.loads((tmp_path / "report" / "real_eval.json").read_text())
    assert written["real"]["windows_analysed"] == 2
    assert "(real data, no labels" in (tmp_path / "report" / "real_eval.md").read_text()


def test_a_folder_with_nothing_analysable_fails_and_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "recordings"
    folder.mkdir()
    write_band_csv(folder / "no_ppg.csv", 70.0, ppg=False)
    tflite, _ = released_paths("emotion")
    result = evaluate_real("emotion", tflite, folder, tmp_path / "report")
    assert result.figures["real"]["recordings"][0]["not_analysed"] == {"emotion not analysed: no PPG": 1}
    assert result.floors[ANALYSED_FLOOR] is False and not result.passed
    assert ANALYSED_FLOOR in result.failed_floors and result.figures["floors_pass"] is False
    # the module command: 1 for a failed floor (named), 2 for nothing to evaluate (said why)
    assert main(["--recordings", str(folder), "--report", str(tmp_path / "report")]) == 1
    assert f"FAILED floor: {ANALYSED_FLOOR}" in capsys.readouterr().out
    assert main(["--recordings", str(tmp_path / "nowhere"), "--report", str(tmp_path / "report")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_a_missing_or_empty_folder_and_an_empty_cache_are_refused_with_what_to_do(tmp_path: Path) -> None:
    from cloud.real_emotion.evaluate import evaluate_real_emotion

    tflite, _ = released_paths("emotion")
    with pytest.raises(ValueError, match="does not exist"):
        evaluate_real("emotion", tflite, tmp_path / "nowhere", tmp_path / "report")
    (tmp_path / "short").mkdir()
    write_band_csv(tmp_path / "short" / "band.csv", 30.0)
    short = evaluate_real("emotion", tflite, tmp_path / "short", tmp_path / "short_report")
    assert short.figures["real"]["recordings"][0]["note"].startswith("shorter than one 60 s window")
    assert not short.passed
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("not a recording")
    with pytest.raises(ValueError, match=r"no recording in .*empty: put CSV files"):
        evaluate_real("emotion", tflite, tmp_path / "empty", tmp_path / "report")
    with pytest.raises(ValueError, match=r"run scripts/fetch_real_emotion\.sh"):
        evaluate_real_emotion(tflite, None, tmp_path / "report", cache=tmp_path / "no_cache")
    assert not (tmp_path / "report").exists()  # nothing written for the runs that did not happen
