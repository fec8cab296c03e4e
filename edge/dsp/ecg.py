"""Short R-peak searches and the R-peak history they keep: plain functions over arrays and index lists.

A search (see :class:`edge.ecg_pipeline.EcgPipeline` for when one runs) conditions, with the shared
preprocessing (:mod:`models.preprocessing.beats`), only the recent span that the beats still to
classify need, plus :data:`SETTLE_S` before it for the zero-phase filters' start transient to die
out: a few seconds, not the whole heart-rate window. The span is extended by its last RR cycle
(:data:`EXTEND_S`), so that the filters' end transient falls on that stand-in future rather than on
the newest beats. R-peaks found in the settled part replace the device's R-peak history from there
on; older ones are kept, so the RR features (up to :data:`~models.preprocessing.beats.LOCAL_BEATS`
preceding intervals) and the heart rate rest on the same beats as if the whole record had been
searched. Each beat is classified once, the first time it has a neighbour on each side.

The R-peak history is a list of model-rate indices (:func:`model_index`) of the device's samples,
ascending; a span of ``size`` samples whose first sample is the history's index ``origin`` ends at
``last = origin + size - 1``, the device's newest sample, taken at device time ``t_end``.
``tests/edge/test_ecg_equivalence.py`` holds the beats to the training path's.
"""

from __future__ import annotations

import math
import statistics
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from fractions import Fraction
from itertools import pairwise

import numpy as np

from models.preprocessing.beats import AFTER, BEFORE, ECG_RATE_HZ, LOCAL_BEATS, condition_many
from models.preprocessing.ecg import MIN_RR_S, detect_r_peaks_many

#: Samples (at the model rate) after an R-peak that its detection depends on.
DETECTION_TAIL = round(0.15 * ECG_RATE_HZ)
#: Seconds at the start of a conditioned span still marked by the 0.5 Hz high-pass's start transient:
#: on simulated ECG the span's samples differ from the whole record's by up to ~1 mV at 0 s, ~0.03 mV
#: at 1.5 s and < 0.005 mV (a third of the model's int8 input step) from 2 s on. R-peaks found before
#: it are not trusted, and a span always starts this long before the waveform of any beat it cuts.
SETTLE_S = 2.0
#: Shortest span searched (>= 2 beats at 30 bpm).
MIN_SPAN_S = 3.0
#: Seconds without a new R-peak (twice the longest plausible RR interval, 2 s) after
#: which the search is taken to be stuck: an artifact in the span holds its threshold (a percentile
#: of the span's QRS energy) above the real beats until it scrolls out — seen for 4 s at 1,000
#: simulated patients. The history then starts afresh from the recent signal, as after a gap (the
#: beats in between are not classified, rather than classified seconds late).
STALE_PEAK_S = 4.0
#: Seconds of signal appended after the newest sample before conditioning: the last RR cycle repeated.
#: The zero-phase filter's backward pass starts at the end of what it is given; started at the newest
#: sample it rings (up to ~0.7 mV on the newest beats at high heart rates, where the next R-peak comes
#: soon after a beat's waveform); started 1.5 s into a plausible future, it has died out by then and
#: the newest beats' waveforms come within a few hundredths of a mV of the whole record's.
EXTEND_S = 1.5
#: Seconds before the settled part of a span where the R-peak search starts (the 5-20 Hz band-pass's
#: own start transient and the energy window need a little signal before the first peak that counts).
DETECT_LEAD_S = 0.8
#: Span of a search without an R-peak history (start, gap, bad signal): the first run's whole buffer.
#: Such a search waits until the device holds this much signal it may search: after a start or a gap,
#: this much signal; after bad signal, this much after the signal its quality check refused.
FIRST_SPAN_S = 4.0
#: R-peaks kept even when older than the heart-rate window: the RR context of the next beats.
KEEP_PEAKS = LOCAL_BEATS + 4
#: The detector's refractory distance: two R-peaks closer than this are one beat seen twice.
DISTANCE = int(MIN_RR_S * ECG_RATE_HZ)
#: How far the detector's refinement may move an R-peak (samples), a margin on the span.
REFINE = round(0.08 * ECG_RATE_HZ)
#: Microseconds per sample at the model rate.
_TO_US = 1e6 / ECG_RATE_HZ


@dataclass(frozen=True, slots=True)
class Beat:
    """A beat of the R-peak history whose waveform and next R-peak lie in the span searched."""

    #: its position in the history
    index: int
    #: its R-peak (history index)
    peak: int
    #: device times (µs) of its R-peak, its first sample and its last (the next R-peak's detection)
    r_us: int
    start_us: int
    end_us: int


def model_index(sample: int, fs: float) -> int:
    """Index at :data:`~models.preprocessing.beats.ECG_RATE_HZ` of a device's ``sample``-th sample (at ``fs``):
    the R-peak history's time axis, which stays put while the spans searched move along."""
    return sample if fs == ECG_RATE_HZ else round(sample * ECG_RATE_HZ / fs)


def history_is_stale(peaks: list[int], newest: int) -> bool:
    """Whether the newest R-peak of a non-empty history lies more than :data:`STALE_PEAK_S` before the
    newest sample (history index ``newest``): the search is stuck, and the history must start afresh."""
    return newest - peaks[-1] > STALE_PEAK_S * ECG_RATE_HZ


def search_span(peaks: list[int], last_beat_index: int, total: int, filled: int, fs: float) -> int:
    """Samples (device rate ``fs``) to search, for a device that holds ``filled`` of the ``total`` samples
    it sent, with the R-peak history ``peaks`` whose beats up to ``last_beat_index`` are classified:
    from :data:`SETTLE_S` before the waveform of the first beat still to classify (or of the newest
    R-peak, after which new beats turn up) to the newest sample; :data:`FIRST_SPAN_S` without a history."""
    if not peaks:
        return min(filled, round(FIRST_SPAN_S * fs))
    newest = model_index(total - 1, fs)
    pending = bisect_right(peaks, last_beat_index)
    first = peaks[min(pending, len(peaks) - 1)]
    reach = newest - first + BEFORE + REFINE
    seconds = max(MIN_SPAN_S, reach / ECG_RATE_HZ + SETTLE_S)
    return min(filled, math.ceil(seconds * fs))


def aligned_span(total: int, n: int, fs: float) -> int:
    """``n``, or a little more at a rate other than the model's, so that the span of the newest samples
    starts on a sample at a whole model-rate index (the R-peak history then keeps the same indices
    from one run to the next); never more than ``total``."""
    if fs == ECG_RATE_HZ:
        return n
    step = alignment_step(fs)
    return min(total, total - (total - n) // step * step)


def aligned_start(sample: int, fs: float) -> int:
    """The first of a device's samples (rate ``fs``), from ``sample`` on, that lies on a whole model-rate
    index: where a span that must not start before ``sample`` can start (:func:`aligned_span`'s grid)."""
    step = alignment_step(fs)
    return -(-sample // step) * step


def alignment_step(fs: float) -> int:
    """Device samples between two that lie on whole model-rate indices (as the resampler's ratio; 1 at the
    model rate)."""
    return Fraction(ECG_RATE_HZ / fs).limit_denominator(1000).denominator


def merge_peaks(history: list[int], found: list[int], settled: int | None) -> list[int]:
    """The R-peak history after a run that ``found`` R-peaks in a span whose samples from ``settled`` on are
    free of its start transient (all indices on the history's axis; ``None``: no history to keep).

    Before ``settled`` the history stands. From it on, a peak found now takes the place of any
    history peak within :data:`DISTANCE` (this search has seen more of the signal after it), and a
    history peak this search missed is kept: the detector's threshold follows the few seconds it
    searches, so a smaller beat can drop under it in one run and come back in the next — dropping it
    would classify its neighbour with the wrong RR and the beat itself a frame late.
    """
    if settled is None:
        return list(found)
    cut = bisect_left(history, settled)
    kept = history[:cut]
    floor = kept[-1] + DISTANCE if kept else settled - 1
    fresh = [q for q in found if q > floor and q >= settled]
    merged = sorted(fresh + [q for q in history[cut:] if not _near(q, fresh)])
    return kept + merged


def _near(peak: int, peaks: list[int]) -> bool:
    at = bisect_left(peaks, peak)
    return any(abs(peaks[j] - peak) < DISTANCE for j in (at - 1, at) if 0 <= j < len(peaks))


def updated_history(history: list[int], found: list[int], origin: int, newest: int, window_s: float) -> list[int]:
    """The R-peak history after a search of the span from history index ``origin`` to ``newest`` that
    ``found`` R-peaks (:func:`merge_peaks`), without the peaks older than ``window_s`` beyond the
    :data:`KEEP_PEAKS` newest."""
    peaks = merge_peaks(history, found, origin + round(SETTLE_S * ECG_RATE_HZ) if history else None)
    oldest = bisect_left(peaks, newest + 1 - round(window_s * ECG_RATE_HZ))
    return peaks[min(oldest, max(0, len(peaks) - KEEP_PEAKS)):]


def recent_peaks(peaks: list[int], last: int, filled: int, fs: float) -> list[int]:
    """The R-peaks among the ``filled`` newest samples (device rate ``fs``) that end at history index ``last``."""
    return peaks[bisect_right(peaks, last - round(filled * ECG_RATE_HZ / fs)):]


def next_beat_us(recent: list[int], last: int, t_end: int) -> int | None:
    """Device time by which the next R-peak is expected, three quarters of the median RR interval of the
    ``recent`` R-peaks after the newest; ``None`` with fewer than two (the newest peak completes its
    predecessor; the next one is due one RR later)."""
    if len(recent) < 2:
        return None
    rr_us = statistics.median([b - a for a, b in pairwise(recent)]) * _TO_US
    return t_end - round((last - recent[-1]) * _TO_US) + round(0.75 * rr_us)


def completed_beats(peaks: list[int], origin: int, last: int, t_end: int, last_beat_us: int) -> list[Beat]:
    """The beats of the history ``peaks`` not classified yet (R-peak after ``last_beat_us``, the R-peak
    time of the last one classified; 0: none) whose waveform lies in the span from ``origin`` to ``last``
    and whose next R-peak is known: each has a neighbour on each side. A beat's window ends where the
    next R-peak became detectable (the samples just after it are in: energy window and refinement)."""
    # beats up to the last one classified were done on an earlier run: skip them before the work
    first = 1
    if last_beat_us:
        first = max(1, bisect_right(peaks, last - int((t_end - last_beat_us - MIN_RR_S * 0.5e6) / _TO_US)))
    beats = []
    for i in range(first, len(peaks) - 1):
        p = peaks[i]
        r_us = t_end - round((last - p) * _TO_US)
        if p - BEFORE < origin or p + AFTER > last + 1 or r_us <= last_beat_us + MIN_RR_S * 0.5e6:
            continue
        end_index = min(max(p + AFTER - 1, peaks[i + 1] + DETECTION_TAIL), last)
        end_us = t_end - round((last - end_index) * _TO_US)
        start_us = t_end - round((last - (p - BEFORE)) * _TO_US)
        beats.append(Beat(i, p, r_us, start_us, end_us))
        last_beat_us = r_us
    return beats


def beat_context(peaks: list[int], index: int, origin: int) -> tuple[list[int], int]:
    """``(context, n_prev)`` of the beat ``peaks[index]`` for
    :func:`~models.preprocessing.beats.beat_vectors_at`: the span indices of the (up to)
    :data:`~models.preprocessing.beats.LOCAL_BEATS` R-peaks before it, its own and the next one, the
    oldest repeated where the history is shorter; and how many of them precede it."""
    context = [q - origin for q in peaks[max(0, index - LOCAL_BEATS) : index + 2]]
    return [context[0]] * (LOCAL_BEATS + 2 - len(context)) + context, min(index, LOCAL_BEATS)


def condition_and_search(x: np.ndarray, histories: list[list[int]]) -> tuple[np.ndarray, list[np.ndarray], int]:
    """``(conditioned x, R-peaks found per row (indices from skip), skip)`` for spans ``x`` (``(k, n)`` at
    the model rate) of devices with the R-peak ``histories``.

    Each row is extended by its last RR cycle (:data:`EXTEND_S`) before the zero-phase conditioning,
    so that the filter's backward pass starts in a stand-in future instead of at the newest sample.
    The search sees that future too (the band-pass and energy window then ring as little at the
    newest R-peak as the conditioning does); an R-peak within REFINE of the newest sample could be a
    stand-in beat pulled back by the refinement, so only earlier ones are returned (one that recent
    has too little signal after it to be complete anyway). With a history for every row the search
    starts :data:`DETECT_LEAD_S` before the settled part, the only part whose R-peaks are used.
    """
    size = x.shape[1]
    periods = np.asarray([min(size, rr_period(peaks)) for peaks in histories])
    conditioned = condition_many(extend_periodic(x, periods, round(EXTEND_S * ECG_RATE_HZ)), ECG_RATE_HZ)
    skip = round((SETTLE_S - DETECT_LEAD_S) * ECG_RATE_HZ) if all(histories) else 0
    skip = min(skip, max(0, size - 2 * round(ECG_RATE_HZ)))  # >= 2 s to search
    found = detect_r_peaks_many(conditioned[:, skip:], ECG_RATE_HZ)
    return conditioned[:, :size], [p[p < size - skip - REFINE] for p in found], skip


def rr_period(peaks: list[int]) -> int:
    """Samples (model rate) of the recent heart period: the median of the last LOCAL_BEATS RR intervals
    of an R-peak history; one second when the history has fewer than two intervals."""
    if len(peaks) < 3:
        return round(ECG_RATE_HZ)
    rr = sorted(b - a for a, b in pairwise(peaks[-LOCAL_BEATS - 1 :]))
    return max(1, rr[len(rr) // 2])


def extend_periodic(x: np.ndarray, periods: np.ndarray, length: int) -> np.ndarray:
    """Rows of ``x`` (``(k, n)``) followed by ``length`` samples that repeat each row's last ``periods[r]``
    samples (``1 <= periods[r] <= n``): a quasi-periodic signal's likeliest continuation."""
    n = x.shape[1]
    idx = n - periods[:, None] + np.arange(length)[None, :] % periods[:, None]
    return np.concatenate([x, np.take_along_axis(x, idx, axis=1)], axis=1)
