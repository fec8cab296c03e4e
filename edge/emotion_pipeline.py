"""Emotion/stress: minute-long windows of ECG + EDA + PPG summarised by the shared feature code.

Every :data:`HOP_S` a band is judged (:mod:`edge.emotion_gate`): a band that lacks a channel, or whose
window has a flat or clipped one, is not run through the model and says so once, as a ``quality``
event of model ``emotion`` ("emotion not analysed: no PPG"); the others' windows are measured against
each wearer's own running baseline (:class:`~models.preprocessing.emotion.SubjectBaseline`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edge.alerts import AlertContext, StressState, alert_event
from edge.arrivals import ArrivalLog
from edge.buffers import RingBuffer
from edge.emotion_gate import WINDOW_US, Verdicts, complete, missing_channel, window_problem
from edge.pipeline import Window, class_index
from iomt.wire.events import Event, EventKind, Priority
from iomt.wire.frames import Frame
from models.preprocessing.emotion import HOP_S, RELATIVE_VERSION, WINDOW_S, SubjectBaseline, window_features_many
from models.preprocessing.emotion_quality import NotAnalysed
from models.runtime import ModelRunner

MODEL = "emotion"
NEEDED = ("ecg", "eda", "ppg")


@dataclass
class _Device:
    buffers: dict[str, RingBuffer] = field(default_factory=dict)
    arrivals: dict[str, ArrivalLog] = field(default_factory=dict)
    next_end_us: int = 0
    stress: StressState = field(default_factory=StressState)
    #: the wearer's running baseline the features are relative to (survives gaps: same person)
    baseline: SubjectBaseline = field(default_factory=SubjectBaseline)
    verdicts: Verdicts = field(default_factory=Verdicts)
    #: the newest sample time of the band's full streams when its judgement fell due
    due_us: int = 0


class EmotionPipeline:
    model = MODEL
    streams = frozenset(NEEDED)

    def __init__(self, ctx: AlertContext) -> None:
        self.ctx = ctx
        self._devices: dict[str, _Device] = {}
        #: devices with a window due (a dict: ordered, unique)
        self._due: dict[str, None] = {}
        self.windows = 0

    def on_frame(self, frame: Frame, arrival_ns: int) -> list[Event]:
        device = frame.device
        dev = self._devices.get(device)
        if dev is None:
            if frame.stream == "ecg":
                return []  # an ECG patch alone is not an emotion band; wait for EDA/PPG to show up
            dev = self._devices[device] = _Device()
        stream = frame.stream
        buffers = dev.buffers
        buf = buffers.get(stream)
        if buf is None or buf.rate_hz != frame.sample_rate:
            buf = buffers[stream] = RingBuffer(round(WINDOW_S * frame.sample_rate), 1, frame.sample_rate)
        t_last = frame.t_last_us
        buf.extend(frame.values()[:, :1], t_last)
        log = dev.arrivals.get(stream)
        if log is None:
            log = dev.arrivals[stream] = ArrivalLog()
        log.add(t_last, arrival_ns)
        # Due every hop once any stream holds a window. The band's time is where all three streams have
        # got to; a band short of a channel (never sent, or stopped a window ago) is judged at its newest
        # full stream's time all the same, so a missing or stalled stream cannot silence it.
        full = [b.t_last_us for s in NEEDED if (b := buffers.get(s)) is not None and b.filled == b.capacity]
        if not full:
            return []
        newest = max(full)
        present = [buffers[s].t_last_us for s in NEEDED if s in buffers]
        end = min(present) if len(present) == len(NEEDED) and min(present) > newest - WINDOW_US else newest
        if end >= dev.next_end_us:
            dev.next_end_us = end + round(HOP_S * 1e6)
            dev.due_us = end
            self._due[device] = None
        return []

    def on_gap(self, device: str, stream: str) -> None:
        dev = self._devices.get(device)
        if dev is not None and stream in dev.buffers:
            dev.buffers[stream].clear()

    def ready(self) -> tuple[list[Window], list[Event]]:
        """Windows of every due band that can be analysed, and the "not analysed" verdicts that changed;
        features of windows with the same rates and lengths are computed together
        (:func:`window_features_many`)."""
        if not self._due:
            return [], []
        groups: dict[tuple[tuple[float, int], ...], list[tuple[str, list[np.ndarray]]]] = {}
        events: list[Event] = []
        for device in self._due:
            dev = self._devices[device]
            b = dev.buffers
            verdict = missing_channel(b, dev.due_us)
            signals: list[np.ndarray] = []
            if verdict is None:
                if not complete(b):
                    dev.next_end_us = dev.due_us  # a stream still filling (start, gap): judge with its next frame
                    continue
                signals = [b[s].latest(b[s].capacity)[:, 0] for s in NEEDED]
                verdict = window_problem(dict(zip(NEEDED, signals, strict=True)))
            report, said = dev.verdicts.update(verdict)
            if report:
                events.append(self._verdict_event(device, said, (dev.due_us - WINDOW_US, dev.due_us)))
            if verdict is None:
                key = tuple((b[s].rate_hz, len(x)) for s, x in zip(NEEDED, signals, strict=True))
                groups.setdefault(key, []).append((device, signals))
        self._due = {}
        windows = []
        for key, members in groups.items():
            (ecg_hz, _), (eda_hz, _), (ppg_hz, _) = key
            ecg, eda, ppg = (np.stack([signals[i] for _, signals in members]) for i in range(len(NEEDED)))
            baselines = [self._devices[device].baseline for device, _ in members]
            features = window_features_many(ecg, ecg_hz, eda, eda_hz, ppg, ppg_hz, baselines)
            for (device, _), x in zip(members, features, strict=True):
                dev = self._devices[device]
                end_us = min(dev.buffers[s].t_last_us for s in NEEDED)
                arrival = max(dev.arrivals[s].arrival_of(end_us) for s in NEEDED)  # the last stream to cover it
                windows.append(Window(device, end_us - round(WINDOW_S * 1e6), end_us, x, arrival))
        self.windows += len(windows)
        return windows, events

    def _verdict_event(self, device: str, verdict: NotAnalysed | None, window: tuple[int, int]) -> Event:
        """``emotion`` quality event: not analysed and why, or analysed again."""
        if verdict is None:
            label, detail, priority = "analysed", {"message": "emotion analysed again"}, Priority.INFO
        else:
            label, priority = verdict.label, Priority.MEDIUM
            detail = {"message": verdict.message, "channel": verdict.channel, "problem": verdict.problem}
        return Event(
            device=device, model=MODEL, model_version=RELATIVE_VERSION, kind=EventKind.QUALITY, label=label,
            score=0.0 if verdict is None else 1.0, window_start_us=window[0], window_end_us=window[1],
            t_us=window[1], site=self.ctx.site, node=self.ctx.node, priority=priority, detail=detail,
        )

    def on_outputs(self, windows: list[Window], outputs: np.ndarray | None, runner: ModelRunner | None) -> list[Event]:
        if outputs is None or runner is None:
            return []
        stress = class_index(runner, "stress")
        events = []
        for w, probs in zip(windows, outputs, strict=True):
            best = int(probs.argmax())
            events.append(Event(
                device=w.device, model=MODEL, model_version=runner.version, kind=EventKind.INFERENCE,
                label=runner.classes[best], score=float(probs[best]), window_start_us=w.start_us,
                window_end_us=w.end_us, t_us=w.end_us, site=self.ctx.site, node=self.ctx.node,
                detail={"probabilities": {c: round(float(p), 3) for c, p in zip(runner.classes, probs, strict=True)}},
            ))
            if stress is None:
                continue
            change = self._devices[w.device].stress.on_window(float(probs[stress]))
            if change is not None:
                state, mean, alert_id = change
                events.append(alert_event(self.ctx, w.device, MODEL, runner.version, "stress", Priority.LOW, state,
                                          mean, (w.start_us, w.end_us), alert_id))
        return events
