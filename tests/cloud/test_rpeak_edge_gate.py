"""The R-peak validation scores what the edge emits: detections in a stretch the edge's quality check
refuses are not edge output (simulated lead; the real cross-check with the edge pipeline is in
models/ecg/report/rpeaks_review.md)."""

from __future__ import annotations

import numpy as np

from cloud.real_ecg.rpeaks import detect, edge_emits
from firmware_sim.ecg import EcgStream
from firmware_sim.persona import make_persona

FS = 250.0


def _lead() -> np.ndarray:
    stream = EcgStream(make_persona(1, 0, condition="normal"), FS, np.random.default_rng(1))
    return stream.render(round(FS * 40))


def test_a_clean_lead_is_emitted_whole() -> None:
    x = _lead()
    found = detect(x, FS)
    assert found.size > 30 and edge_emits(x, FS, found).all()


def test_detections_in_a_clipped_stretch_are_not_edge_output() -> None:
    """10-16 s clipped at a third of the R height (the front end saturates): the edge's check refuses every
    run whose 2 s reach into it, so the beats there, whose predecessor lies more than 4 s before the first
    run that passes again, are never emitted; the beats well away from it are."""
    x = _lead()
    t = np.arange(x.size) / FS
    stretch = (t >= 10.0) & (t < 16.0)
    top = 0.33 * np.percentile(x, 99.9)
    x = np.where(stretch, np.minimum(x, top), x)
    found = detect(x, FS)
    emitted = edge_emits(x, FS, found)
    at = found / FS
    inside = (at > 12.0) & (at < 14.0)  # every run that completes them checks 2 s of clipped signal
    away = (at < 8.0) | (at > 19.0)
    assert inside.sum() >= 2 and not emitted[inside].any()
    assert emitted[away].all()
