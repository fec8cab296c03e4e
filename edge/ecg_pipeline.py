"""ECG: R-peaks and beat-centred windows for the arrhythmia model, heart rate, signal quality.

A run (at most every ``hop_s``, and only once the next beat can have completed) conditions and
searches for R-peaks, with the shared preprocessing (:mod:`models.preprocessing.beats`), only the
recent span that the beats still to classify need, plus :data:`SETTLE_S` before it for the
zero-phase filters' start transient to die out: a few seconds, not the whole ``window_s``. The span
is extended by its last RR cycle (:data:`EXTEND_S`), so that the filters' end transient falls on
that stand-in future rather than on the newest beats. R-peaks found in the settled part replace
the device's R-peak history from there on; older ones are kept, so the RR features (up to
:data:`~models.preprocessing.beats.LOCAL_BEATS` preceding intervals) and the heart rate (over
``window_s``) rest on the same beats as if the whole record had been searched. Due devices are
searched together, in batches of similar spans. Each beat is classified once, the first time it has
a neighbour on each side. Beat labels feed :class:`edge.alerts.ArrhythmiaState`; the same R-peaks
give the heart rate. ``tests/edge/test_ecg_equivalence.py`` holds the beats to the training path's.
"""

from __future__ import annotations

import math
import statistics
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import pairwise

import numpy as np

from edge.alerts import AlertContext, ArrhythmiaState, alert_event
from edge.arrivals import ArrivalLog
from edge.buffers import RingBuffer
from edge.pipeline import Window
from edge.quality import ecg_quality_many
from edge.quality_state import QualityTracker
from iomt.wire.events import AlertState, Event, EventKind
from iomt.wire.frames import Frame
from models.preprocessing import PREPROCESSING_VERSION
from models.preprocessing.beats import AFTER, BEFORE, ECG_RATE_HZ, LOCAL_BEATS, beat_vectors_at, condition_many
from models.preprocessing.ecg import MIN_RR_S, detect_r_peaks_many, heart_rate_from_peaks
from models.preprocessing.resample import resample
from models.runtime import ModelRunner

MODEL = "ecg"
#: Samples (at the model rate) after an R-peak that its detection depends on.
DETECTION_TAIL = round(0.15 * ECG_RATE_HZ)
QUALITY_S = 2.0
#: Runs in a row that may find no new R-peak before runs are throttled to one per hop.
IDLE_RUNS = 2
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
#: Devices conditioned and searched in one call: large enough to share the calls' fixed cost, small
#: enough for the filter passes to stay in the CPU cache (larger batches ran slower per sample).
CHUNK_ROWS = 16
#: Span of a run without an R-peak history (start, gap, bad signal): the first run's whole buffer.
FIRST_SPAN_S = 4.0
#: R-peaks kept even when older than the heart-rate window: the RR context of the next beats.
KEEP_PEAKS = LOCAL_BEATS + 4
#: The detector's refractory distance: two R-peaks closer than this are one beat seen twice.
DISTANCE = int(MIN_RR_S * ECG_RATE_HZ)
#: How far the detector's refinement may move an R-peak (samples), a margin on the span.
REFINE = round(0.08 * ECG_RATE_HZ)


@dataclass
class _Device:
    buffer: RingBuffer
    arrivals: ArrivalLog = field(default_factory=ArrivalLog)
    next_run_total: int = 0
    #: device time by which the next R-peak is expected; no run before it (nothing could complete)
    next_beat_us: int = 0
    last_beat_us: int = 0
    #: the first run after a start or a gap: beats that completed before it are warm-up, not classified
    warming: bool = True
    #: beats that completed before this device time are warm-up, whichever later run first finds them
    warm_until_us: int = 0
    last_hr_us: int = 0
    #: R-peak history: model-rate indices (:func:`model_index`) of the device's samples, ascending
    peaks: list[int] = field(default_factory=list)
    last_beat_index: int = -1
    #: the newest R-peak at the previous run, and how many runs in a row found none newer
    newest_peak: int = -1
    idle_runs: int = 0
    arrhythmia: ArrhythmiaState = field(default_factory=ArrhythmiaState)


@dataclass(slots=True)
class _Cut:
    """A beat chosen for classification, before its vector is cut (with the other due devices' beats)."""

    device: str
    start_us: int
    end_us: int
    arrival_ns: int
    r_us: int
    #: R-peaks (span indices) of the LOCAL_BEATS before the beat, the beat and the next one
    context: list[int]
    n_prev: int


class EcgPipeline:
    model = MODEL
    streams = frozenset({"ecg"})

    def __init__(
        self, ctx: AlertContext, quality: QualityTracker, window_s: float = 10.0, hop_s: float = 1.0,
        hr_interval_s: float = 2.0,
    ) -> None:
        self.ctx = ctx
        self.quality = quality
        self.window_s = window_s
        self.hop_s = hop_s
        self.hr_interval_us = round(hr_interval_s * 1e6)
        self._devices: dict[str, _Device] = {}
        self._due: set[str] = set()
        self.beats = 0
        self.warmup_beats = 0
        self.runs = 0

    def on_frame(self, frame: Frame, arrival_ns: int) -> list[Event]:
        dev = self._devices.get(frame.device)
        if dev is None or dev.buffer.rate_hz != frame.sample_rate:
            capacity = round(self.window_s * frame.sample_rate)
            dev = self._devices[frame.device] = _Device(RingBuffer(capacity, 1, frame.sample_rate))
            dev.next_run_total = round(4.0 * frame.sample_rate)  # wait for a few beats
        dev.buffer.extend(frame.values(), frame.t_last_us)
        dev.arrivals.add(frame.t_last_us, arrival_ns)
        if dev.buffer.total >= dev.next_run_total and frame.t_last_us >= dev.next_beat_us:
            dev.next_run_total = dev.buffer.total + round(self.hop_s * frame.sample_rate)
            self._due.add(frame.device)
        return []

    def on_gap(self, device: str, stream: str) -> None:
        dev = self._devices.get(device)
        if dev is not None:
            dev.buffer.clear()
            dev.peaks = []
            dev.warming = True
            dev.next_run_total = dev.buffer.total + round(4.0 * dev.buffer.rate_hz)

    def ready(self) -> tuple[list[Window], list[Event]]:
        """Quality-check every due device, then condition and search the good ones in batches."""
        windows: list[Window] = []
        events: list[Event] = []
        by_rate: dict[float, list[str]] = {}
        for device in self._due:
            by_rate.setdefault(self._devices[device].buffer.rate_hz, []).append(device)
        self._due.clear()
        for fs, devices in by_rate.items():
            for n, members in self._batches(fs, self._good(fs, devices, events)):
                windows.extend(self._search(fs, n, members, events))
        return windows, events

    def _good(self, fs: float, devices: list[str], events: list[Event]) -> list[str]:
        """The devices whose last :data:`QUALITY_S` pass the quality check (changes of verdict are events)."""
        recent: dict[int, list[tuple[str, np.ndarray]]] = {}
        for device in devices:
            raw = self._devices[device].buffer.latest(round(QUALITY_S * fs))[:, 0]
            recent.setdefault(raw.size, []).append((device, raw))
        good = []
        for size, rows in recent.items():
            verdicts = ecg_quality_many(np.stack([raw for _, raw in rows]), fs)
            for (device, _raw), problem in zip(rows, verdicts, strict=True):
                dev = self._devices[device]
                buf = dev.buffer
                change = self.quality.update(device, "ecg", problem, (buf.time_of(size - 1), buf.t_last_us))
                if change is not None:
                    events.append(change)
                if problem is None:
                    good.append(device)
                else:  # the beats on either side of bad signal are not neighbours
                    dev.peaks = []
        return good

    def _batches(self, fs: float, devices: list[str]) -> list[tuple[int, list[tuple[str, np.ndarray]]]]:
        """``(span, [(device, raw span)])`` for ``devices``: sorted by the span each needs and cut into
        batches of up to :data:`CHUNK_ROWS`, each searching the longest span among its devices (a
        little more signal for some, in exchange for one batched pass)."""
        needs = sorted((self._span(self._devices[device]), device) for device in devices)
        batches: list[tuple[int, list[tuple[str, np.ndarray]]]] = []
        for first in range(0, len(needs), CHUNK_ROWS):
            chunk = needs[first : first + CHUNK_ROWS]
            by_size: dict[int, list[tuple[str, np.ndarray]]] = {}
            for _n, device in chunk:  # a device holding less than the span searches all it has
                buf = self._devices[device].buffer
                raw = buf.latest(aligned_span(buf.total, min(buf.filled, chunk[-1][0]), fs))[:, 0]
                by_size.setdefault(raw.size, []).append((device, raw))
            batches.extend(by_size.items())
        return batches

    def _span(self, dev: _Device) -> int:
        """Samples (device rate) to search: from :data:`SETTLE_S` before the waveform of the first beat
        still to classify (or of the newest R-peak, after which new beats turn up) to the newest sample."""
        buf = dev.buffer
        if not dev.peaks:
            return min(buf.filled, round(FIRST_SPAN_S * buf.rate_hz))
        newest = model_index(buf.total - 1, buf.rate_hz)
        if newest - dev.peaks[-1] > STALE_PEAK_S * ECG_RATE_HZ:  # stuck: start afresh, as after a gap
            dev.peaks = []
            dev.warming = True
            return min(buf.filled, round(FIRST_SPAN_S * buf.rate_hz))
        pending = bisect_right(dev.peaks, dev.last_beat_index)
        first = dev.peaks[min(pending, len(dev.peaks) - 1)]
        reach = newest - first + BEFORE + REFINE
        seconds = max(MIN_SPAN_S, reach / ECG_RATE_HZ + SETTLE_S)
        return min(buf.filled, math.ceil(seconds * buf.rate_hz))

    def _search(
        self, fs: float, n: int, members: list[tuple[str, np.ndarray]], events: list[Event]
    ) -> list[Window]:
        """Condition and search the spans (``n`` samples each) of ``members``; windows of their new beats."""
        devs = [self._devices[device] for device, _ in members]
        stacked = np.stack([raw for _, raw in members])
        conditioned, found, skip = condition_and_search(
            stacked if fs == ECG_RATE_HZ else resample(stacked.T, fs, ECG_RATE_HZ).T,
            [dev.peaks for dev in devs],
        )
        size = conditioned.shape[1]
        cuts: list[_Cut] = []
        rows: list[int] = []
        for row, ((device, _raw), dev, peaks) in enumerate(zip(members, devs, found, strict=True)):
            origin = model_index(dev.buffer.total - n, fs)
            self._remember(dev, (peaks + (origin + skip)).tolist(), origin, origin + size - 1)
            new = self._beats(device, dev, origin, size, events)
            cuts.extend(new)
            rows.extend([row] * len(new))
        if not cuts:
            return []
        vectors = beat_vectors_at(
            conditioned, np.asarray(rows), np.asarray([c.context for c in cuts]), np.asarray([c.n_prev for c in cuts])
        )
        self.beats += len(cuts)
        return [Window(c.device, c.start_us, c.end_us, v, c.arrival_ns, c.r_us) for c, v in zip(cuts, vectors,
                                                                                               strict=True)]

    def _remember(self, dev: _Device, found: list[int], origin: int, newest: int) -> None:
        """Merge the R-peaks ``found`` in a span from model index ``origin`` to ``newest`` into the history."""
        peaks = merge_peaks(dev.peaks, found, origin + round(SETTLE_S * ECG_RATE_HZ) if dev.peaks else None)
        oldest = bisect_left(peaks, newest + 1 - round(self.window_s * ECG_RATE_HZ))
        dev.peaks = peaks[min(oldest, max(0, len(peaks) - KEEP_PEAKS)):]

    def _beats(self, device: str, dev: _Device, origin: int, size: int, events: list[Event]) -> list[_Cut]:
        """The beats of the R-peak history not classified yet whose waveform lies in the span (``size``
        samples from model index ``origin``); also the heart rate and when the next beat is due."""
        self.runs += 1
        buf = dev.buffer
        t_end = buf.t_last_us
        to_us = 1e6 / ECG_RATE_HZ
        last = origin + size - 1
        peaks = dev.peaks
        in_window = peaks[bisect_right(peaks, last - round(buf.filled * ECG_RATE_HZ / buf.rate_hz)):]
        self._heart_rate(device, dev, in_window, buf.time_of(buf.filled - 1), t_end, events)
        if len(in_window) >= 2:  # the newest peak completes its predecessor; the next one is due one RR later
            rr_us = statistics.median([b - a for a, b in pairwise(in_window)]) * to_us
            dev.next_beat_us = t_end - round((last - peaks[-1]) * to_us) + round(0.75 * rr_us)
        self._schedule(dev, peaks[-1] if peaks else -1)
        # beats up to the last one classified were done on an earlier run: skip them before the work
        first = 1
        if dev.last_beat_us:
            first = max(1, bisect_right(peaks, last - int((t_end - dev.last_beat_us - MIN_RR_S * 0.5e6) / to_us)))
        cuts = []
        if dev.warming:
            dev.warm_until_us = t_end - round(self.hop_s * 1e6)
            dev.warming = False
        for i in range(first, len(peaks) - 1):
            p = peaks[i]
            r_us = t_end - round((last - p) * to_us)
            if p - BEFORE < origin or p + AFTER > last + 1 or r_us <= dev.last_beat_us + MIN_RR_S * 0.5e6:
                continue
            # the window needs its own samples and the next R-peak, which is found only once the
            # samples just after it are in (energy window and refinement): those are its last samples
            end_index = min(max(p + AFTER - 1, peaks[i + 1] + DETECTION_TAIL), last)
            end_us = t_end - round((last - end_index) * to_us)
            dev.last_beat_us, dev.last_beat_index = r_us, p
            if end_us <= dev.warm_until_us:
                # completed while the detector was still gathering its first seconds of context
                self.warmup_beats += 1
                continue
            start_us = t_end - round((last - (p - BEFORE)) * to_us)
            context = [q - origin for q in peaks[max(0, i - LOCAL_BEATS) : i + 2]]
            context = [context[0]] * (LOCAL_BEATS + 2 - len(context)) + context
            cuts.append(_Cut(device, start_us, end_us, dev.arrivals.arrival_of(end_us), r_us, context,
                             min(i, LOCAL_BEATS)))
        return cuts

    def _schedule(self, dev: _Device, newest: int) -> None:
        """When the next run may start. A run that found a new R-peak leaves it to the predicted next
        beat (``next_beat_us``). One that found none came too early — the next peak was not yet
        detectable — and must not wait a whole hop, or that beat is classified a frame late: it runs
        again on the next frame; only after :data:`IDLE_RUNS` empty runs (no beats: asystole, noise
        the quality check passed) does the hop throttle it."""
        buf = dev.buffer
        if newest != dev.newest_peak:
            dev.newest_peak, dev.idle_runs = newest, 0
            dev.next_run_total = buf.total
        else:
            dev.idle_runs += 1
            dev.next_run_total = buf.total + (1 if dev.idle_runs <= IDLE_RUNS else round(self.hop_s * buf.rate_hz))

    def _heart_rate(
        self, device: str, dev: _Device, peaks: list[int], t_start: int, t_end: int, events: list[Event]
    ) -> None:
        if t_end - dev.last_hr_us < self.hr_interval_us:
            return
        dev.last_hr_us = t_end
        estimate = heart_rate_from_peaks(peaks, ECG_RATE_HZ)
        if estimate is None:
            return
        bpm, intervals = estimate
        events.append(Event(
            device=device, model="heart_rate", model_version=PREPROCESSING_VERSION, kind=EventKind.INFERENCE,
            label="heart_rate", score=float(min(1.0, intervals / (self.window_s * 0.8))),
            value=round(bpm, 1), window_start_us=t_start, window_end_us=t_end,
            t_us=t_end, site=self.ctx.site, node=self.ctx.node, detail={"rr_intervals": intervals},
        ))

    def on_outputs(self, windows: list[Window], outputs: np.ndarray | None, runner: ModelRunner | None) -> list[Event]:
        if outputs is None or runner is None or not windows:
            return []
        events: list[Event] = []
        by_device: dict[str, list[int]] = {}
        for i, w in enumerate(windows):
            by_device.setdefault(w.device, []).append(i)
        for device, rows in by_device.items():
            labels = [runner.classes[int(outputs[i].argmax())] for i in rows]
            scores = [float(outputs[i].max()) for i in rows]
            first, last = windows[rows[0]], windows[rows[-1]]
            worst = max(range(len(rows)), key=lambda k: (labels[k] != "N", scores[k]))
            events.append(Event(
                device=device, model=MODEL, model_version=runner.version, kind=EventKind.INFERENCE, label=labels[worst],
                score=scores[worst], window_start_us=first.start_us, window_end_us=last.end_us, t_us=last.end_us,
                site=self.ctx.site, node=self.ctx.node,
                detail={"beats": [[int(windows[i].extra), lab, round(s, 3)] for i, lab, s in
                                  zip(rows, labels, scores, strict=True)]},
            ))
            state = self._devices[device].arrhythmia
            for i, lab, s in zip(rows, labels, scores, strict=True):
                for label, st, priority, score, alert_id in state.on_beat(lab, int(windows[i].extra)):
                    events.append(alert_event(
                        self.ctx, device, MODEL, runner.version, label, priority, st,
                        score if st is AlertState.RAISED else s,
                        (windows[i].start_us, windows[i].end_us), alert_id,
                    ))
        return events


def model_index(sample: int, fs: float) -> int:
    """Index at :data:`~models.preprocessing.beats.ECG_RATE_HZ` of a device's ``sample``-th sample (at ``fs``):
    the R-peak history's time axis, which stays put while the spans searched move along."""
    return sample if fs == ECG_RATE_HZ else round(sample * ECG_RATE_HZ / fs)


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


def aligned_span(total: int, n: int, fs: float) -> int:
    """``n``, or a little more at a rate other than the model's, so that the span of the newest samples
    starts on a sample at a whole model-rate index (the R-peak history then keeps the same indices
    from one run to the next); never more than ``total``."""
    if fs == ECG_RATE_HZ:
        return n
    step = Fraction(ECG_RATE_HZ / fs).limit_denominator(1000).denominator  # as the resampler's ratio
    return min(total, total - (total - n) // step * step)


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
