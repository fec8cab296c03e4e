"""The pure parts of the ECG pipeline's short searches: R-peak history, spans, the stand-in future."""

from __future__ import annotations

import numpy as np

from edge.dsp.ecg import (
    DISTANCE,
    FIRST_SPAN_S,
    KEEP_PEAKS,
    STALE_PEAK_S,
    Beat,
    aligned_span,
    aligned_start,
    beat_context,
    completed_beats,
    extend_periodic,
    history_is_stale,
    merge_peaks,
    model_index,
    next_beat_us,
    recent_peaks,
    rr_period,
    search_span,
    updated_history,
)
from edge.ecg_pipeline import EcgPipeline
from edge.events import EventFactory
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


def test_a_span_that_must_not_start_before_a_sample_starts_on_a_whole_model_rate_index() -> None:
    assert aligned_start(1234, 250.0) == 1234  # at the model rate every sample is on one
    for sample in (0, 1, 35, 36, 37, 10_000):
        first = aligned_start(sample, 360.0)
        assert sample <= first < sample + 36 and first * 250 % 360 == 0
        total = first + 5000  # a span capped there keeps aligned_span's grid
        assert aligned_span(total, total - first, 360.0) == total - first


def test_a_history_whose_newest_r_peak_is_stale_starts_afresh() -> None:
    """No R-peak for longer than twice the slowest plausible RR interval: the search is stuck (an
    artifact holds its threshold up), so the history restarts like after a gap instead of waiting."""
    pipeline = EcgPipeline(EventFactory("s", "n"), QualityTracker("s", "n"))
    pipeline.on_frame(make_frame("d", "ecg", 0, 1_764_000_000_000_000, 250.0, np.zeros(2500, np.int16)), 0)
    dev = pipeline._devices["d"]
    fresh = 2499 - round(1.0 * 250)
    dev.peaks = [fresh - 200, fresh]
    assert pipeline._span(dev) < 2500 and dev.peaks == [fresh - 200, fresh]  # a peak 1 s ago: searching on
    dev.peaks = [2499 - round((STALE_PEAK_S + 0.1) * 250)]
    assert pipeline._span(dev) == round(FIRST_SPAN_S * 250)
    assert dev.peaks == [] and dev.warming


# The R-peak history at 250 Hz (the model rate: one index per 4 ms); the span searched ends at index
# 799, the device's newest sample, taken at device time 10 s.
PEAKS = [100, 300, 500, 700]
T_END = 10_000_000


def test_a_search_spans_from_the_settling_time_before_the_first_beat_still_to_classify() -> None:
    assert search_span([], -1, total=5000, filled=2500, fs=250.0) == 1000  # no history: the first 4 s
    assert search_span([], -1, total=600, filled=600, fs=250.0) == 600  # ... or all there is
    # beats up to 1200 classified; 1400 is next: 100 samples to the newest + its waveform (60) + the
    # refinement margin (20) = 0.72 s, + 2 s to settle = 2.72 s, under the 3 s floor
    assert search_span([1000, 1200, 1400], 1200, total=1501, filled=2500, fs=250.0) == 750
    # 1000 still to classify: (500 + 80) / 250 + 2 = 4.32 s
    assert search_span([1000, 1200, 1400], 999, total=1501, filled=2500, fs=250.0) == 1080
    assert search_span([1000, 1200, 1400], 999, total=1501, filled=900, fs=250.0) == 900  # all it holds
    assert search_span([1000, 1200, 1400], 999, total=1501 * 360 // 250, filled=5000, fs=360.0) == 1556


def test_a_history_is_stale_when_its_newest_r_peak_is_more_than_four_seconds_old() -> None:
    assert not history_is_stale([100, 1000], newest=2000)
    assert history_is_stale([100, 1000], newest=2001)


def test_the_history_keeps_the_window_and_at_least_the_rr_context_of_the_next_beats() -> None:
    # a search of 100..1200 (settled from 600): 495 is before it, 701/901 replace 700/900, 1100 is new
    assert updated_history([100, 300, 500, 700, 900], [495, 701, 901, 1100], 100, 1200, 4.0) == [
        100, 300, 500, 701, 901, 1100]
    long = list(range(0, 3000, 100))  # 30 peaks, the last at 2900
    kept = updated_history(long, [3000], 2500, 3050, 4.0)
    assert kept == list(range(1900, 3100, 100)) and len(kept) == KEEP_PEAKS  # 4 s hold 10: 12 are kept
    assert updated_history([], [20, 220], 0, 400, 4.0) == [20, 220]  # no history: the search's peaks


def test_the_beats_a_search_completes_have_a_neighbour_on_each_side_and_their_waveform_in_the_span() -> None:
    assert completed_beats(PEAKS, 0, 799, T_END, 0) == [
        # R at 10 s - (799 - 300) * 4 ms; the window runs from 60 samples before it to where the next
        # R-peak (500) became detectable, 38 samples after it
        Beat(1, 300, 8_004_000, 7_764_000, 8_956_000),
        Beat(2, 500, 8_804_000, 8_564_000, 9_756_000),
    ]  # 100 has no predecessor, 700 no successor yet
    assert completed_beats(PEAKS, 250, 799, T_END, 0) == [Beat(2, 500, 8_804_000, 8_564_000, 9_756_000)]
    assert completed_beats(PEAKS, 0, 799, T_END, 8_004_000) == [Beat(2, 500, 8_804_000, 8_564_000, 9_756_000)]
    assert completed_beats(PEAKS, 0, 799, T_END, 8_804_000) == []  # both classified on an earlier run
    assert completed_beats([100, 300, 500, 700, 795], 0, 799, T_END, 0)[-1].end_us == T_END  # tail ends the span


def test_a_beats_context_is_its_eight_predecessors_itself_and_the_next_padded_with_the_oldest() -> None:
    assert beat_context(PEAKS, 2, 50) == ([50] * 7 + [250, 450, 650], 2)
    many = list(range(0, 1300, 100))
    assert beat_context(many, 10, 0) == (list(range(200, 1200, 100)), 8)


def test_the_next_beat_is_due_three_quarters_of_an_rr_interval_after_the_newest() -> None:
    assert next_beat_us(PEAKS, 799, T_END) == T_END - 99 * 4000 + 600_000
    assert next_beat_us([700], 799, T_END) is None
    assert recent_peaks(PEAKS, 799, filled=500, fs=250.0) == [300, 500, 700]  # the newest 2 s: indices 300..799
    assert recent_peaks(PEAKS, 799, filled=499, fs=250.0) == [500, 700]
    assert recent_peaks(PEAKS, 799, filled=576, fs=360.0) == [500, 700]  # 1.6 s: indices 400..799
