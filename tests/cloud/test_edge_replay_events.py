"""``cloud.real_ecg.edge_replay --events``: what the edge raises on a lead, with the released int8 model
(a real LiteRT interpreter) classifying its beats. Simulated leads here; on the real ones the figures are
in models/ecg/report/rpeaks_review.md."""

from __future__ import annotations

import numpy as np
import pytest

from cloud.real_ecg.edge_replay import REPEAT_FROM_S, T0_US, edge_events, events_summary, repeated
from edge.alerts import AlertLabel
from firmware_sim.ecg import EcgStream
from firmware_sim.persona import make_persona
from iomt.wire.events import AlertState, EventKind
from models.runtime import ModelRunner

FS = 250.0


@pytest.fixture(scope="module")
def runner() -> ModelRunner:
    return ModelRunner.released("ecg")


def _lead(condition: str, seed: int, seconds: float = 40.0) -> tuple[np.ndarray, list[tuple[float, float]]]:
    stream = EcgStream(make_persona(seed, seed, condition=condition), FS, np.random.default_rng(seed))
    x = stream.render(round(FS * seconds))
    return x, [(e.start, e.end) for e in stream.take_episodes()]


def test_a_ventricular_run_is_raised_during_the_simulated_vt(runner: ModelRunner) -> None:
    x, episodes = _lead("vt_prone", 0)
    beats, events = edge_events(x, FS, runner)
    runs = [e for e in events if e.kind is EventKind.ALERT and e.label == AlertLabel.VENTRICULAR_RUN]
    assert [e.state for e in runs] == [AlertState.RAISED]
    raised_s = (runs[0].window_start_us - T0_US) / 1e6
    start, end = episodes[0]
    assert start <= raised_s <= end
    assert "ventricular_run raised" in events_summary("vt", x.size / FS, beats, events)


def test_a_clean_normal_lead_raises_no_alert(runner: ModelRunner) -> None:
    x, _ = _lead("normal", 1)
    beats, events = edge_events(x, FS, runner)
    assert len(beats) > 30
    assert not [e for e in events if e.kind in (EventKind.ALERT, EventKind.QUALITY)]
    assert "arrhythmia alerts: none" in events_summary("normal", x.size / FS, beats, events)


def test_repeats_join_without_a_step() -> None:
    x, _ = _lead("normal", 1, seconds=10.0)
    y = repeated(x + 0.3 * np.arange(x.size) / x.size, FS, 3)  # ends higher than it starts
    tail = x.size - round(REPEAT_FROM_S * FS)
    assert y.size == x.size + 2 * tail
    joins = [x.size, x.size + tail]
    assert all(y[j] == y[j - 1] for j in joins)
