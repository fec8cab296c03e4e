"""The edge drops a baseline step as training does: it runs the shared step removal on a device's raw span
at the device's rate, before it resamples (simulated 1 kHz lead with a synthetic step)."""

from __future__ import annotations

import numpy as np
import pytest

import models.preprocessing.steps as steps_module
from edge.alerts import AlertContext
from edge.ecg_pipeline import EcgPipeline
from edge.quality_state import QualityTracker
from firmware_sim.ecg import EcgStream
from firmware_sim.persona import make_persona
from iomt.wire.frames import make_frame
from models.preprocessing.beats import beat_vectors

T0_US = 1_764_000_000_000_000
FS = 1000.0
SECONDS = 30
SCALE_MV = 0.001


def _edge_beats_s(counts: np.ndarray) -> np.ndarray:
    """R-peak times (s) of the beats the edge classifies, fed 0.5 s frames."""
    pipeline = EcgPipeline(AlertContext("s", "n"), QualityTracker("s", "n"), hop_s=0.5)
    n = round(FS * 0.5)
    windows = []
    for k in range(counts.size // n):
        pipeline.on_frame(make_frame("d", "ecg", k, T0_US + k * 500_000, FS, counts[k * n : (k + 1) * n], SCALE_MV), k)
        windows += pipeline.ready()[0]
    return np.asarray([(w.extra - T0_US) / 1e6 for w in windows])


def test_the_edge_takes_no_beat_at_a_step_and_keeps_the_training_beats(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = EcgStream(make_persona(4, 0, condition="normal"), FS, np.random.default_rng(4))
    x = stream.render(round(FS * SECONDS))
    truth = np.asarray([t for t, _ in stream.take_beats()])
    k = truth.size // 2
    at = float((truth[k] + truth[k + 1]) / 2)
    x = x + np.where(np.arange(x.size) / FS > at, 0.7, 0.0)
    counts = np.clip(np.round(x / SCALE_MV), -32768, 32767).astype(np.int16)
    edge = _edge_beats_s(counts)
    train, _ = beat_vectors(counts * SCALE_MV, FS)
    assert edge.size > 20
    assert np.min(np.abs(edge - at)) > 0.15 and np.min(np.abs(train - at)) > 0.15
    inside = train[(train >= edge.min()) & (train <= edge.max())]
    assert np.abs(inside[:, None] - edge[None, :]).min(axis=1).max() <= 2 / 250  # the same beats
    monkeypatch.setattr(steps_module, "STEP_SLEW_MV_S", np.inf)  # the rule off: the step is a beat
    assert np.min(np.abs(_edge_beats_s(counts) - at)) < 0.1
