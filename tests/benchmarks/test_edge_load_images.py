"""The edge benchmark's images are spread over the run (random first instants), not sent at its start."""

from __future__ import annotations

import numpy as np

from benchmarks.edge_load import imaging


def test_images_are_spread_over_the_run_one_per_patient_per_interval() -> None:
    sources, count = imaging(patients=40, duration_s=60.0, every_min=1.0, seed=3)
    # an image every minute: each of the 40 patients' first image falls within a 60 s run, and only it
    assert count == len(sources) == 40
    due_s = np.array([s.frame_s - s.lead_s for s in sources])  # when each device's first image is due
    assert ((due_s > 0) & (due_s <= 60)).all()
    assert np.histogram(due_s, bins=4, range=(0, 60))[0].min() >= 2  # every quarter of the run has images
    assert 15 <= float(np.median(due_s)) <= 45  # not bunched at the start (nor the end)
    chunks = sources[0].render(0, 0)
    assert isinstance(chunks, list) and chunks and all(c[:2] == b"IC" for c in chunks)
    # every 10 minutes over 30 s: only the patients whose first image falls in the run (about 1 in 20)
    sources, count = imaging(patients=200, duration_s=30.0, every_min=10.0, seed=3)
    assert count == len(sources) and 2 <= count <= 25
