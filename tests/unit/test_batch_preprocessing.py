"""The batched preprocessing the edge uses gives exactly what the per-signal code gives."""

from __future__ import annotations

import numpy as np
import pytest

from firmware_sim.ecg import EcgSynth
from models.preprocessing.beats import condition, condition_many
from models.preprocessing.ecg import detect_r_peaks, detect_r_peaks_many


@pytest.mark.parametrize("fs", [250.0, 360.0, 500.0])
def test_batched_conditioning_and_r_peaks_equal_the_single_signal_code(fs: float) -> None:
    rows = np.stack([EcgSynth(fs, 55 + 15 * i, np.random.default_rng(i)).render(int(fs * 10)) for i in range(4)])
    rows[2] *= 0.0  # a flat row must not disturb its neighbours
    batched = condition_many(rows, fs)
    peaks = detect_r_peaks_many(batched, 250.0)
    for i, row in enumerate(rows):
        single = condition(row, fs)
        np.testing.assert_array_equal(batched[i], single)
        np.testing.assert_array_equal(peaks[i], detect_r_peaks(single, 250.0))
    assert peaks[2].size == 0 and all(peaks[i].size >= 8 for i in (0, 1, 3))


def test_skipping_classified_beats_leaves_the_other_vectors_unchanged() -> None:
    from models.preprocessing.beats import beat_vectors_from_peaks

    x = condition(EcgSynth(250.0, 70.0, np.random.default_rng(0)).render(2500), 250.0)
    peaks = detect_r_peaks(x, 250.0)
    kept, vectors = beat_vectors_from_peaks(x, peaks)
    later, later_vectors = beat_vectors_from_peaks(x, peaks, after=int(peaks[5]))
    assert 0 < later.size < kept.size
    np.testing.assert_array_equal(later, kept[kept > peaks[5]])
    np.testing.assert_array_equal(later_vectors, vectors[kept > peaks[5]])
