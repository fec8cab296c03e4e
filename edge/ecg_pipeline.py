"""ECG: R-peaks and beat-centred windows for the arrhythmia model, heart rate, signal quality.

Every ``hop_s`` of new signal the last ``window_s`` are conditioned and searched for R-peaks with
the shared preprocessing (:mod:`models.preprocessing.beats`), so the beat vectors are exactly those
the model was trained on. Each beat is classified once, the first time it has a neighbour on each
side. Beat labels feed :class:`edge.alerts.ArrhythmiaState`; the same R-peaks give the heart rate.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edge.alerts import AlertContext, ArrhythmiaState, alert_event
from edge.arrivals import ArrivalLog
from edge.buffers import RingBuffer
from edge.pipeline import Window
from edge.quality import ecg_quality_many
from edge.quality_state import QualityTracker
from iomt.wire.events import Event
from iomt.wire.frames import Frame
from models.preprocessing import PREPROCESSING_VERSION
from models.preprocessing.beats import AFTER, BEFORE, ECG_RATE_HZ, beat_vectors_from_peaks, condition_many
from models.preprocessing.ecg import MIN_RR_S, detect_r_peaks_many, heart_rate_from_peaks
from models.runtime import ModelRunner

MODEL = "ecg"
#: Samples (at the model rate) after an R-peak that its detection depends on.
DETECTION_TAIL = round(0.15 * ECG_RATE_HZ)
QUALITY_S = 2.0


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
    last_hr_us: int = 0
    arrhythmia: ArrhythmiaState = field(default_factory=ArrhythmiaState)


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
            dev.warming = True
            dev.next_run_total = dev.buffer.total + round(4.0 * dev.buffer.rate_hz)

    def ready(self) -> tuple[list[Window], list[Event]]:
        """Quality-check every due device, then condition and search all good ones together."""
        windows: list[Window] = []
        events: list[Event] = []
        groups: dict[tuple[float, int], list[tuple[str, np.ndarray]]] = {}
        for device in self._due:
            buf = self._devices[device].buffer
            raw = buf.latest(buf.capacity)[:, 0]
            groups.setdefault((buf.rate_hz, raw.size), []).append((device, raw))
        self._due.clear()
        for (fs, _n), candidates in groups.items():
            stacked = np.stack([raw for _, raw in candidates])
            recent = stacked[:, -round(QUALITY_S * fs):]
            members = []
            for (device, raw), problem in zip(candidates, ecg_quality_many(recent, fs), strict=True):
                buf = self._devices[device].buffer
                change = self.quality.update(device, "ecg", problem, (buf.time_of(recent.shape[1] - 1), buf.t_last_us))
                if change is not None:
                    events.append(change)
                if problem is None:
                    members.append((device, raw))
            if not members:
                continue
            conditioned = condition_many(np.stack([raw for _, raw in members]), fs)
            all_peaks = detect_r_peaks_many(conditioned, ECG_RATE_HZ)
            for (device, _raw), x, peaks in zip(members, conditioned, all_peaks, strict=True):
                windows.extend(self._beats(device, self._devices[device], x, peaks, events))
        return windows, events

    def _beats(self, device: str, dev: _Device, x: np.ndarray, peaks: np.ndarray, events: list[Event]) -> list[Window]:
        self.runs += 1
        buf = dev.buffer
        t_end = buf.t_last_us
        t_start = buf.time_of(buf.filled - 1)
        to_us = 1e6 / ECG_RATE_HZ
        last_index = x.size - 1
        self._heart_rate(device, dev, peaks, t_start, t_end, events)
        if peaks.size >= 2:  # the newest peak completes its predecessor; the next one is due one RR later
            rr_us = float(np.median(np.diff(peaks))) * to_us
            dev.next_beat_us = t_end - round((last_index - int(peaks[-1])) * to_us) + round(0.75 * rr_us)
        # beats up to the last one classified were done on an earlier run: skip them before the work
        done = last_index - int((t_end - dev.last_beat_us - MIN_RR_S * 0.5e6) / to_us)
        kept, vectors = beat_vectors_from_peaks(x, peaks, after=done if dev.last_beat_us else None)
        windows = []
        warm_until = t_end - round(self.hop_s * 1e6) if dev.warming else 0
        dev.warming = False
        for p, vector in zip(kept, vectors, strict=True):
            r_us = t_end - round((last_index - int(p)) * to_us)
            if r_us <= dev.last_beat_us + MIN_RR_S * 0.5e6:
                continue
            following = peaks[peaks > p]
            # the window needs its own samples and the next R-peak, which is found only once the
            # samples just after it are in (energy window and refinement): those are its last samples
            end_index = max(int(p) + AFTER - 1, int(following[0]) + DETECTION_TAIL if following.size else int(p))
            end_index = min(end_index, last_index)
            end_us = t_end - round((last_index - end_index) * to_us)
            if end_us <= warm_until:
                # completed while the detector was still gathering its first seconds of context
                dev.last_beat_us = r_us
                self.warmup_beats += 1
                continue
            start_us = t_end - round((last_index - (int(p) - BEFORE)) * to_us)
            windows.append(Window(device, start_us, end_us, vector, dev.arrivals.arrival_of(end_us), r_us))
            dev.last_beat_us = r_us
        self.beats += len(windows)
        return windows

    def _heart_rate(
        self, device: str, dev: _Device, peaks: np.ndarray, t_start: int, t_end: int, events: list[Event]
    ) -> None:
        if t_end - dev.last_hr_us < self.hr_interval_us:
            return
        dev.last_hr_us = t_end
        estimate = heart_rate_from_peaks(peaks, ECG_RATE_HZ)
        if estimate is None:
            return
        bpm, intervals = estimate
        events.append(Event(
            device=device, model="heart_rate", model_version=PREPROCESSING_VERSION, kind="inference",
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
                device=device, model=MODEL, model_version=runner.version, kind="inference", label=labels[worst],
                score=scores[worst], window_start_us=first.start_us, window_end_us=last.end_us, t_us=last.end_us,
                site=self.ctx.site, node=self.ctx.node,
                detail={"beats": [[int(windows[i].extra), lab, round(s, 3)] for i, lab, s in
                                  zip(rows, labels, scores, strict=True)]},
            ))
            state = self._devices[device].arrhythmia
            for i, lab, s in zip(rows, labels, scores, strict=True):
                for label, st, priority, score, alert_id in state.on_beat(lab, int(windows[i].extra)):
                    events.append(alert_event(
                        self.ctx, device, MODEL, runner.version, label, priority, st, score if st == "raised" else s,
                        (windows[i].start_us, windows[i].end_us), alert_id,
                    ))
        return events
