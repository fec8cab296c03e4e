"""ECG: which devices are due for an R-peak search, their buffers and R-peak histories; beat
windows for the arrhythmia model, heart rate, signal quality.

A search runs at most every ``hop_s`` per device, and only once the next beat can have completed;
due devices are quality-checked, then conditioned and searched together, in batches of similar
spans. No search reaches back into signal the quality check refused: a refusal forgets the R-peak
history, and the device's next search starts after the refused window, once it holds
:data:`~edge.dsp.ecg.FIRST_SPAN_S` of signal from there (as the first search after a start or a gap).
What a search does — the span it needs, the stand-in future, how its R-peaks update the device's
history, which beats it completes — is :mod:`edge.dsp.ecg`. Each beat is classified once;
beat labels feed :class:`edge.alerts.ArrhythmiaState`; the same R-peaks give the heart rate.

A beat window holds the beat's input 1 vector and its predecessor's (the device's last beat cut,
warm-up beats included; none after a start, a gap or bad signal: the beat stands for its own, as a
record's first beat does in training); :meth:`EcgPipeline.model_inputs` turns them into the input
of the model running (:func:`models.preprocessing.beats.model_input`, by the input major its
metadata names), so a 1.0.0 and a 1.1.0 model run alike and may be swapped while beats flow.
``tests/edge/test_ecg_equivalence.py`` holds the beats to the training path's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edge.alerts import ArrhythmiaState
from edge.arrivals import ArrivalLog
from edge.buffers import RingBuffer
from edge.config import ModelName
from edge.dsp.ecg import (
    FIRST_SPAN_S,
    aligned_span,
    aligned_start,
    beat_context,
    completed_beats,
    condition_and_search,
    history_is_stale,
    model_index,
    next_beat_us,
    recent_peaks,
    search_span,
    updated_history,
)
from edge.dsp.quality import ecg_quality_many
from edge.events import EventFactory
from edge.pipeline import Window
from edge.quality_state import QualityTracker
from iomt.wire.events import AlertState, Event
from iomt.wire.frames import Frame
from models.preprocessing import PREPROCESSING_VERSION
from models.preprocessing.beats import ECG_RATE_HZ, VECTOR, beat_vectors_at, input_major, model_input
from models.preprocessing.ecg import heart_rate_from_peaks
from models.preprocessing.resample import resample
from models.preprocessing.steps import remove_steps_many
from models.runtime import ModelRunner

MODEL = ModelName.ECG
#: Model name of heart-rate events (derived from the R-peaks, no model of its own).
HEART_RATE = "heart_rate"
QUALITY_S = 2.0
#: Runs in a row that may find no new R-peak before runs are throttled to one per hop.
IDLE_RUNS = 2
#: Devices conditioned and searched in one call: large enough to share the calls' fixed cost, small
#: enough for the filter passes to stay in the CPU cache (larger batches ran slower per sample).
CHUNK_ROWS = 16

#: A beat window's ``extra``: the device time (µs) of its R-peak.
BeatWindow = Window[int]


@dataclass
class _Device:
    buffer: RingBuffer
    arrivals: ArrivalLog = field(default_factory=ArrivalLog)
    next_run_total: int = 0
    #: device time by which the next R-peak is expected; no run before it (nothing could complete)
    next_beat_us: int = 0
    #: R-peak time of the last beat classified (or skipped as warm-up)
    last_beat_us: int = 0
    #: the first run after a start or a gap: beats that completed before it are warm-up, not classified
    warming: bool = True
    #: beats that completed before this device time are warm-up, whichever later run first finds them
    warm_until_us: int = 0
    last_hr_us: int = 0
    #: R-peak history: model-rate indices (:func:`~edge.dsp.ecg.model_index`) of the device's samples
    peaks: list[int] = field(default_factory=list)
    last_beat_index: int = -1
    #: the newest R-peak at the previous run, and how many runs in a row found none newer
    newest_peak: int = -1
    idle_runs: int = 0
    arrhythmia: ArrhythmiaState = field(default_factory=ArrhythmiaState)
    #: input 1 vector of the last beat cut (the next beat's predecessor); None after a reset
    last_vector: np.ndarray | None = None
    #: ``buffer.total`` at the end of the last window the quality check refused (rounded up to a sample on
    #: a whole model-rate index, where a span may start): no search reaches before it; 0: none refused
    clean_from: int = 0

    def forget_peaks(self) -> None:
        """The beats before and after this point are not neighbours (a gap, bad signal, a stuck search)."""
        self.peaks = []
        self.last_vector = None


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
    #: cut only to be the next beat's predecessor (completed during warm-up): not classified
    warmup: bool = False


class EcgPipeline:
    model = MODEL
    streams = frozenset({"ecg"})

    def __init__(
        self, events: EventFactory, quality: QualityTracker, window_s: float = 10.0, hop_s: float = 1.0,
        hr_interval_s: float = 2.0,
    ) -> None:
        self.events = events
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
            dev.next_run_total = round(FIRST_SPAN_S * frame.sample_rate)  # the first search's span
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
            dev.forget_peaks()
            dev.warming = True
            dev.next_run_total = dev.buffer.total + round(FIRST_SPAN_S * dev.buffer.rate_hz)

    def ready(self) -> tuple[list[BeatWindow], list[Event]]:
        """Quality-check every due device, then condition and search in batches the good ones that hold
        :data:`~edge.dsp.ecg.FIRST_SPAN_S` of signal since any refused (the others wait: a shorter
        first search would settle too little of its span to trust the R-peaks it keeps)."""
        windows: list[BeatWindow] = []
        events: list[Event] = []
        by_rate: dict[float, list[str]] = {}
        for device in self._due:
            by_rate.setdefault(self._devices[device].buffer.rate_hz, []).append(device)
        self._due.clear()
        for fs, devices in by_rate.items():
            first_span = round(FIRST_SPAN_S * fs)
            ready = [d for d in self._good(fs, devices, events) if self._clean(self._devices[d]) >= first_span]
            for n, members in self._batches(fs, ready):
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
                else:  # the beats on either side of bad signal are not neighbours; none is searched in it
                    dev.forget_peaks()
                    dev.clean_from = aligned_start(buf.total, fs)
        return good

    def _batches(self, fs: float, devices: list[str]) -> list[tuple[int, list[tuple[str, np.ndarray]]]]:
        """``(span, [(device, raw span)])`` for ``devices``: sorted by the span each needs and cut into
        batches of up to :data:`CHUNK_ROWS`, each searching the longest span among its devices (a
        little more signal for some, in exchange for one batched pass) — but never more than a device's
        own signal since a refusal (:meth:`_clean`): such a device searches less, in a batch of its own
        size, so that no row's result depends on the others'."""
        needs = sorted((self._span(self._devices[device]), device) for device in devices)
        batches: list[tuple[int, list[tuple[str, np.ndarray]]]] = []
        for first in range(0, len(needs), CHUNK_ROWS):
            chunk = needs[first : first + CHUNK_ROWS]
            by_size: dict[int, list[tuple[str, np.ndarray]]] = {}
            for _n, device in chunk:  # a device holding less than the span searches all it has
                dev = self._devices[device]
                buf = dev.buffer
                n = min(aligned_span(buf.total, min(buf.filled, chunk[-1][0]), fs), self._clean(dev))
                raw = buf.latest(n)[:, 0]
                by_size.setdefault(raw.size, []).append((device, raw))
            batches.extend(by_size.items())
        return batches

    def _span(self, dev: _Device) -> int:
        """Samples (device rate) the device's next search needs (:func:`~edge.dsp.ecg.search_span`); a
        stuck history (:func:`~edge.dsp.ecg.history_is_stale`) starts afresh first, as after a gap. Never
        more than the signal since the last refusal (:meth:`_clean`)."""
        buf = dev.buffer
        if dev.peaks and history_is_stale(dev.peaks, model_index(buf.total - 1, buf.rate_hz)):
            dev.forget_peaks()
            dev.warming = True
        return min(search_span(dev.peaks, dev.last_beat_index, buf.total, buf.filled, buf.rate_hz), self._clean(dev))

    @staticmethod
    def _clean(dev: _Device) -> int:
        """Samples the device sent after the last window its quality check refused (all it sent, if none):
        the most a search may reach back (``clean_from`` lies on a whole model-rate index, so a span
        capped to this still starts on one)."""
        return dev.buffer.total - dev.clean_from

    def _search(
        self, fs: float, n: int, members: list[tuple[str, np.ndarray]], events: list[Event]
    ) -> list[BeatWindow]:
        """Condition and search the spans (``n`` samples each) of ``members``; windows of their new beats."""
        devs = [self._devices[device] for device, _ in members]
        stacked = np.stack([raw for _, raw in members])
        conditioned, found, skip = condition_and_search(
            # baseline steps out at the device's rate, as the shared conditioning does before it resamples
            stacked if fs == ECG_RATE_HZ else resample(remove_steps_many(stacked, fs).T, fs, ECG_RATE_HZ).T,
            [dev.peaks for dev in devs],
        )
        size = conditioned.shape[1]
        cuts: list[_Cut] = []
        rows: list[int] = []
        for row, ((device, _raw), dev, peaks) in enumerate(zip(members, devs, found, strict=True)):
            origin = model_index(dev.buffer.total - n, fs)
            dev.peaks = updated_history(dev.peaks, (peaks + (origin + skip)).tolist(), origin, origin + size - 1,
                                        self.window_s)
            new = self._beats(device, dev, origin, size, events)
            cuts.extend(new)
            rows.extend([row] * len(new))
        if not cuts:
            return []
        vectors = beat_vectors_at(
            conditioned, np.asarray(rows), np.asarray([c.context for c in cuts]), np.asarray([c.n_prev for c in cuts])
        )
        windows: list[BeatWindow] = []
        for c, v in zip(cuts, vectors, strict=True):  # a device's beats in order: each is the next one's predecessor
            dev = self._devices[c.device]
            previous = v if dev.last_vector is None else dev.last_vector
            dev.last_vector = v
            if not c.warmup:
                windows.append(Window(c.device, c.start_us, c.end_us, np.concatenate([v, previous]), c.arrival_ns,
                                      c.r_us))
        self.beats += len(windows)
        return windows

    def model_inputs(self, windows: list[BeatWindow], runner: ModelRunner) -> np.ndarray:
        """The batch ``runner`` reads: each window's beat with its predecessor, as input 1 or input 2."""
        pairs = np.stack([w.x for w in windows])
        ref = runner.metadata.preprocessing
        return model_input(pairs[:, :VECTOR], pairs[:, VECTOR:], input_major(ref.module, ref.version))

    def _beats(self, device: str, dev: _Device, origin: int, size: int, events: list[Event]) -> list[_Cut]:
        """The beats of the R-peak history not classified yet whose waveform lies in the span (``size``
        samples from model index ``origin``); also the heart rate and when the next beat is due."""
        self.runs += 1
        buf = dev.buffer
        t_end = buf.t_last_us
        last = origin + size - 1
        peaks = dev.peaks
        in_window = recent_peaks(peaks, last, buf.filled, buf.rate_hz)
        self._heart_rate(device, dev, in_window, buf.time_of(buf.filled - 1), t_end, events)
        due = next_beat_us(in_window, last, t_end)
        if due is not None:
            dev.next_beat_us = due
        self._schedule(dev, peaks[-1] if peaks else -1)
        if dev.warming:
            dev.warm_until_us = t_end - round(self.hop_s * 1e6)
            dev.warming = False
        cuts = []
        for beat in completed_beats(peaks, origin, last, t_end, dev.last_beat_us):
            dev.last_beat_us, dev.last_beat_index = beat.r_us, beat.peak
            # completed while the detector was still gathering its first seconds of context: cut (the next
            # beat's predecessor), not classified
            warmup = beat.end_us <= dev.warm_until_us
            self.warmup_beats += warmup
            context, n_prev = beat_context(peaks, beat.index, origin)
            cuts.append(_Cut(device, beat.start_us, beat.end_us, dev.arrivals.arrival_of(beat.end_us), beat.r_us,
                             context, n_prev, warmup))
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
        events.append(self.events.inference(
            device, HEART_RATE, PREPROCESSING_VERSION, HEART_RATE, float(min(1.0, intervals / (self.window_s * 0.8))),
            (t_start, t_end), {"rr_intervals": intervals}, value=round(bpm, 1),
        ))

    def on_outputs(
        self, windows: list[BeatWindow], outputs: np.ndarray | None, runner: ModelRunner | None
    ) -> list[Event]:
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
            events.append(self.events.inference(
                device, MODEL, runner.version, labels[worst], scores[worst], (first.start_us, last.end_us),
                {"beats": [[windows[i].extra, lab, round(s, 3)] for i, lab, s in zip(rows, labels, scores,
                                                                                     strict=True)]},
            ))
            state = self._devices[device].arrhythmia
            for i, lab, s in zip(rows, labels, scores, strict=True):
                w = windows[i]
                for label, st, priority, score, raised_by in state.on_beat(lab, w.extra):
                    events.append(self.events.alert(
                        device, MODEL, runner.version, label, priority, st, score if st is AlertState.RAISED else s,
                        (w.start_us, w.end_us), raised_by,
                    ))
        return events
