"""The pure parts of the ECG pipeline's short searches: R-peak history, spans, the stand-in future."""

from __future__ import annotations

import numpy as np

from edge.alerts import AlertContext
from edge.ecg_pipeline import (
    DISTANCE,
    FIRST_SPAN_S,
    STALE_PEAK_S,
    EcgPipeline,
    aligned_span,
    extend_periodic,
    merge_peaks,
    model_index,
    rr_period,
)
from edge.quality_state import QualityTracker
from iomt.wire.frames import make_frame


def test_a_new_search_updates_the_history_from_its_settled_part_on() -> None:
    history = [100, 300, 500, 700, 900]
    # 700 and 900 are seen again (900 placed a sample later with more signal after it), 1100 is new
    assert merge_peaks(history, [495, 701, 901, 1100], settled=600) == [100, 300, 500, 701, 901, 1100]
    # a peak the old search placed just before `settled` is not counted twice from the other side
    seen = [100, 300, 500, 690, 900]
    assert merge_peaks(seen, [702, 905], settled=699) == [100, 300, 500, 690, 905]
    assert merge_peaks(seen, [691 + DISTANCE, 905], settled=699) == [100, 300, 500, 690, 691 + DISTANCE, 905]
    # a beat the new search misses after `settled` is kept (its threshold moved, the beat did not)
    assert merge_peaks(history, [1100], settled=600) == [100, 300, 500, 700, 900, 1100]
    assert merge_peaks(history, [702, 1100], settled=600) == [100, 300, 500, 702, 900, 1100]
    assert merge_peaks([], [5, 200], settled=None) == [5, 200]


def test_the_stand_in_future_repeats_the_last_cycle_of_each_row() -> None:
    x = np.array([[0.0, 1, 2, 3, 4, 5], [10, 11, 12, 13, 14, 15]])
    out = extend_periodic(x, np.array([2, 3]), 5)
    np.testing.assert_array_equal(out[:, :6], x)
    np.testing.assert_array_equal(out[0, 6:], [4, 5, 4, 5, 4])
    np.testing.assert_array_equal(out[1, 6:], [13, 14, 15, 13, 14])


def test_the_heart_period_is_the_median_of_the_recent_rr() -> None:
    assert rr_period([]) == 250 and rr_period([10, 200]) == 250  # too little history: one second
    assert rr_period([0, 200, 400, 650, 850]) == 200
    assert rr_period([*range(0, 100 * 30, 100), 3000 + 40]) == 100  # the last 8 intervals only


def test_spans_of_resampled_devices_start_on_whole_model_rate_indices() -> None:
    assert aligned_span(10_000, 777, 250.0) == 777
    for total in (10_000, 10_001, 10_035):
        n = aligned_span(total, 1000, 360.0)
        assert 1000 <= n < 1036 and (total - n) * 250 % 360 == 0
        assert model_index(total - n, 360.0) == (total - n) * 250 // 360
    assert aligned_span(500, 1000, 360.0) == 500  # never more than there is


def test_a_history_whose_newest_r_peak_is_stale_starts_afresh() -> None:
    """No R-peak for longer than twice the slowest plausible RR interval: the search is stuck (an
    artifact holds its threshold up), so the history restarts like after a gap instead of waiting."""
    pipeline = EcgPipeline(AlertContext("s", "n"), QualityTracker("s", "n"))
    pipeline.on_frame(make_frame("d", "ecg", 0, 1_764_000_000_000_000, 250.0, np.zeros(2500, np.int16)), 0)
    dev = pipeline._devices["d"]
    fresh = 2499 - round(1.0 * 250)
    dev.peaks = [fresh - 200, fresh]
    assert pipeline._span(dev) < 2500 and dev.peaks == [fresh - 200, fresh]  # a peak 1 s ago: searching on
    dev.peaks = [2499 - round((STALE_PEAK_S + 0.1) * 250)]
    assert pipeline._span(dev) == round(FIRST_SPAN_S * 250)
    assert dev.peaks == [] and dev.warming
