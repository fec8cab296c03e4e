"""The lossy-link evaluation drives the edge's own fall pipeline with the released int8 model (LiteRT):
a simulated fall is alerted with no loss and when the second after its impact is lost."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cloud.eval_fall import simulated_falls
from cloud.fall_lossy_eval import _replay_losing_after, replay
from models.runtime import ModelRunner

MODEL = Path(__file__).resolve().parents[2] / "models" / "fall" / "fall.tflite"


def test_a_simulated_fall_is_alerted_with_and_without_a_dropout_after_its_impact() -> None:
    runner = ModelRunner(MODEL)
    acc, gyro, impact, _ = next(simulated_falls("fall_forward", 1, seed=3))
    clean = replay(acc, gyro, 50.0, runner, 0.0, np.random.default_rng(0))
    assert [abs(t - impact) <= 1.0 for t in clean.alerts.get("fall", [])] == [True]
    lossy = _replay_losing_after(acc, gyro, impact, runner)
    assert lossy.gaps == 2 and [j for _, j, _ in lossy.lost] == ["alerted"]  # broke off before judged
    assert [abs(t - impact) <= 1.0 for t in lossy.alerts.get("possible_fall", [])] == [True]
    assert not lossy.alerts.get("fall")
