"""``iomt eval MODEL``: the released ``.tflite`` alone on real recordings through the registry of
:mod:`cloud.real_eval`, the classic rules in the same run, and the exit status when a floor fails."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from cloud import real_eval
from cloud.real_eval import RealEvalResult
from iomt_app.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_eval_calls_the_registered_evaluator_of_any_model_and_exits_1_below_a_floor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Plumbing only (a stand-in evaluator): whatever model is registered is evaluated on its
    released file, its options reach it, and a failed floor makes the exit status 1."""
    calls: list[tuple[Path, Path | None, Path, dict[str, object]]] = []

    def stand_in(tflite: Path, recordings: Path | None, report: Path, **options: object) -> RealEvalResult:
        calls.append((tflite, recordings, report, options))
        return RealEvalResult("ecg", {"real": True}, {"sensitivity >= 0.995": False, "ppv >= 0.995": True})

    monkeypatch.setitem(real_eval.REAL_EVALUATORS, "ecg", stand_in)
    models = tmp_path / "models"
    (models / "ecg").mkdir(parents=True)
    (models / "ecg" / "ecg.tflite").write_bytes(b"released")
    code = main(["eval", "ecg", "--models-dir", str(models), "--recordings", str(tmp_path), "--report",
                 str(tmp_path / "r"), "--workdir", str(tmp_path / "nothing-trained")])
    assert code == 1
    assert "below floor: sensitivity >= 0.995" in capsys.readouterr().err
    [(tflite, recordings, report, options)] = calls
    assert tflite == models / "ecg" / "ecg.tflite" and recordings == tmp_path and report == tmp_path / "r"
    assert options == {}  # none given: an evaluator without options of its own is called as registered
    monkeypatch.setitem(real_eval.REAL_EVALUATORS, "ecg", lambda t, r, p: RealEvalResult("ecg", {}, {"x": True}))
    assert main(["eval", "ecg", "--models-dir", str(models), "--report", str(tmp_path / "r")]) == 0


def test_eval_says_clearly_when_no_model_is_released(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no released fall model"):
        main(["eval", "fall", "--models-dir", str(tmp_path), "--report", str(tmp_path / "r")])


def daily_activity_csv(path: Path, seconds: float = 600.0, fs: float = 50.0) -> None:
    """A waist phone in m/s^2 and rad/s (stated in the header), labelled: standing, walking, and
    jumps (|a| about 3.4 g, then standing still: what the classic rules mistake for a fall)."""
    rng = np.random.default_rng(4)
    n = int(seconds * fs)
    t = np.arange(n) / fs
    acc = np.tile([0.0, 0.0, 1.0], (n, 1)) + rng.normal(0, 0.02, (n, 3))
    gyro = rng.normal(0, 0.02, (n, 3))
    labels = np.array(["standing"] * n, dtype=object)
    walking = (t % 120) < 60
    acc[walking, 2] += 0.25 * np.sin(2 * np.pi * 1.8 * t[walking])
    gyro[walking, 1] += 0.5 * np.sin(2 * np.pi * 0.9 * t[walking])
    labels[walking] = "walking"
    for jump in np.arange(70.0, seconds - 20, 120.0):
        i = int(jump * fs)
        acc[i:i + 5, 2] += 2.4 * np.hanning(5)
        labels[i - int(fs):i + int(4 * fs)] = "jumping"
    header = "t,acc_x[m/s2],acc_y[m/s2],acc_z[m/s2],gyro_x[rad/s],gyro_y[rad/s],gyro_z[rad/s],label"
    rows = [header] + [f"{t[i]:.3f}," + ",".join(f"{v:.5f}" for v in (*acc[i] * 9.80665, *gyro[i])) + f",{labels[i]}"
                       for i in range(n)]
    path.write_text("\n".join(rows) + "\n")
    path.with_suffix(".json").write_text(json.dumps({"placement": "waist"}))


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_eval_fall_on_a_fresh_clone_with_the_released_tflite_alone(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """Only ``models/fall/fall.{tflite,json}`` (no trained model, no dataset): false alarms per hour
    with a 95 % interval, by activity, the 2.5 g and 3.0 g rules in the same run, worn and rotated."""
    models = tmp_path / "models" / "fall"
    models.mkdir(parents=True)
    for name in ("fall.tflite", "fall.json"):
        shutil.copy(ROOT / "models" / "fall" / name, models / name)
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    daily_activity_csv(recordings / "phone.csv")
    report = tmp_path / "report"
    code = main(["eval", "fall", "--recordings", str(recordings), "--models-dir", str(tmp_path / "models"),
                 "--workdir", str(tmp_path / "empty"), "--report", str(report), "--per-kind", "2",
                 "--daily-subjects", "1"])
    full = json.loads((report / "real_eval.json").read_text())
    assert code == (0 if full["passed"] else 1)
    assert json.loads(capsys.readouterr().out)["passed"] == full["passed"]
    real = full["real"]["groups"]["all"]
    for orientation in ("worn", "rotated"):
        for method in ("detector", "classic_2.5g", "classic_3.0g"):
            r = real[orientation][method]
            assert r["hours"] == pytest.approx(600 / 3600, abs=1e-3)
            lo, hi = r["per_hour_95ci"]
            assert lo <= r["per_hour"] <= hi and hi > 0
    # the classic rules alarm at the jumps, labelled as such; the detector sees the posture unchanged
    assert real["worn"]["classic_2.5g"]["alarms"] >= 3
    assert set(real["worn"]["classic_2.5g"]["by_activity"]) == {"jumping"}
    assert real["worn"]["detector"]["alarms"] == 0 == real["rotated"]["detector"]["alarms"]
    assert set(full["simulated_falls_random_mount"]) >= {"fall_forward", "collapse"}
    text = (report / "real_eval.md").read_text()
    assert "REAL daily activity" in text and "SIMULATED" in text
