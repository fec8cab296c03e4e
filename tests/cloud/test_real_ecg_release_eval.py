"""``iomt eval ecg``'s evaluator (:mod:`cloud.real_ecg.release_eval`) through the shared registry, on
WFDB folders the tests write (simulated signals: the real recordings are fetched by a script, never
shipped with the tests), with the released ``.tflite`` alone, LiteRT and the real peer detectors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cloud.real_ecg.records import RecordError
from cloud.real_eval import REAL_EVALUATORS, evaluate_real
from firmware_sim.ecg import EcgStream
from firmware_sim.persona import make_persona
from models.runtime import released_paths

FS = 360.0
SECONDS = 60


def _write_record(folder: Path, name: str, seed: int, *, annotate: bool, shift_s: float = 0.0) -> int:
    """A simulated PVC patient as a WFDB record (MLII, mV) with its beat labels in ``.atr`` (shifted by
    ``shift_s``: wrong annotations); returns how many V beats it holds."""
    import wfdb

    stream = EcgStream(make_persona(seed, 3, condition="pvc"), FS, np.random.default_rng(seed))
    signal = stream.render(round(FS * SECONDS))
    beats = [(t, label) for t, label in stream.take_beats() if 0.0 < t + shift_s < SECONDS - 0.01]
    folder.mkdir(parents=True, exist_ok=True)
    wfdb.wrsamp(name, fs=FS, units=["mV"], sig_name=["MLII"], p_signal=signal[:, None], fmt=["16"],
                write_dir=str(folder))
    if annotate:
        samples = np.asarray([round((t + shift_s) * FS) for t, _ in beats], dtype=np.int64)
        wfdb.wrann(name, "atr", samples, [label for _, label in beats], write_dir=str(folder))
    return sum(label == "V" for _, label in beats)


def test_the_ecg_evaluator_is_registered() -> None:
    assert "ecg" in REAL_EVALUATORS


@pytest.mark.slow
def test_a_wfdb_folder_is_evaluated_with_the_released_tflite_alone(tmp_path: Path) -> None:
    recordings = tmp_path / "recs"
    v_beats = _write_record(recordings, "pvc1", 1, annotate=True)
    _write_record(recordings, "plain", 2, annotate=False)  # no labels: R-peaks against the peers' consensus
    assert v_beats > 3
    report = tmp_path / "report"
    result = evaluate_real("ecg", released_paths("ecg")[0], recordings, report)

    assert result.model == "ecg"
    assert "real" in result.figures["data"]
    rows = {r["record"]: r for r in result.figures["rpeaks"]["records"]}
    assert set(rows) == {"recs/pvc1", "recs/plain"}
    assert rows["recs/pvc1"]["truth"] == "annotations" and rows["recs/plain"]["truth"].startswith("peer consensus")
    assert rows["recs/pvc1"]["beats"] > 50 and rows["recs/pvc1"]["sensitivity"] >= 0.99
    classes = {r["record"]: r for r in result.figures["beat_classes"]["records"]}
    confusion = classes["recs/pvc1"]["confusion"]
    assert sum(confusion["V"].values()) == pytest.approx(v_beats, abs=2)  # every annotated PVC detected
    v_floor = [name for name in result.floors if name.startswith("V sensitivity") and "recs/pvc1" in name]
    assert len(v_floor) == 1
    assert result.floors[v_floor[0]] == (confusion["V"]["V"] / sum(confusion["V"].values()) >= 0.9)
    assert sum(name.startswith("R-peak") for name in result.floors) == 2
    written = json.loads((report / "real_eval.json").read_text())
    assert written["floors"] == dict(result.floors) and written["passed"] == result.passed
    table = (report / "real_eval.md").read_text()
    assert "real data only" in table and "| recs/pvc1 | 360 | annotations |" in table


@pytest.mark.slow
def test_a_failed_floor_is_reported_as_such(tmp_path: Path) -> None:
    """Annotations 0.3 s off every beat: no detection matches, the R-peak floor fails, the run does not pass."""
    recordings = tmp_path / "wrong"
    _write_record(recordings, "shifted", 3, annotate=True, shift_s=0.3)
    result = evaluate_real("ecg", released_paths("ecg")[0], recordings, tmp_path / "report")
    assert not result.passed
    assert any("wrong/shifted" in name for name in result.failed_floors)


def test_a_folder_without_recordings_is_refused_with_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(RecordError, match="no WFDB record"):
        evaluate_real("ecg", released_paths("ecg")[0], tmp_path, tmp_path / "report")
    with pytest.raises(RecordError, match="no such folder"):
        evaluate_real("ecg", released_paths("ecg")[0], tmp_path / "missing", tmp_path / "report")
