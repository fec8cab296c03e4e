"""The R-peak validation scores what the edge emits: detections in a stretch the edge's quality check
refuses are not edge output (simulated lead; the real cross-check with the edge pipeline is in
models/ecg/report/rpeaks_review.md)."""

from __future__ import annotations

import numpy as np

from cloud.real_ecg.rpeaks import detect, edge_emits
from edge.dsp.quality import ecg_quality
from edge.ecg_pipeline import QUALITY_S
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


def _clipped() -> np.ndarray:
    """The lead with 10-16 s clipped at a third of the R height (the front end saturates)."""
    x = _lead()
    t = np.arange(x.size) / FS
    stretch = (t >= 10.0) & (t < 16.0)
    return np.where(stretch, np.minimum(x, 0.33 * np.percentile(x, 99.9)), x)


def test_detections_in_a_clipped_stretch_are_not_edge_output() -> None:
    """The edge's check refuses every run whose 2 s reach into the clipping, so the beats there are never
    emitted (no later search reaches back into refused signal); the beats well away from it are."""
    x = _clipped()
    found = detect(x, FS)
    emitted = edge_emits(x, FS, found)
    at = found / FS
    inside = (at > 12.0) & (at < 14.0)  # every run that completes them checks 2 s of clipped signal
    away = (at < 8.0) | (at > 22.0)
    assert inside.sum() >= 2 and not emitted[inside].any()
    assert emitted[away].all()


def test_a_beat_in_refused_signal_is_not_emitted_by_a_later_run_that_passes() -> None:
    """A run that passes soon after the clipping ends does not search back into the windows refused
    before it (the edge used to search 4 s back and emit the beats there): every detection from the end of
    the first refused window to the end of the last is left out. The beats after it are emitted once the edge has
    gathered 4 s of signal from there (its first search after bad signal), the first one excepted (it
    has no predecessor there). Beats completed before the first refusal are emitted as they come."""
    x = _clipped()
    width = round(QUALITY_S * FS)
    ends = np.arange(width, x.size + 1, 5)
    refused = ends[[ecg_quality(x[e - width : e], FS) is not None for e in ends]]
    assert refused.size == (refused.max() - refused.min()) // 5 + 1  # one refused stretch
    first_refused, last_refused = refused.min() / FS, refused.max() / FS
    assert last_refused > 16.0  # refused windows reach past the clipping: the part the edge searched back into
    found = detect(x, FS)
    emitted = edge_emits(x, FS, found)
    at = found / FS
    assert emitted[at < first_refused - 1.0].all()
    assert not emitted[(at >= first_refused) & (at < last_refused)].any()
    after = np.flatnonzero(at > last_refused)
    assert after.size > 10 and not emitted[after[0]] and emitted[after[1:]].all()
