"""Emotion/stress: minute-long windows of ECG + EDA + PPG summarised by the shared feature code.

Every :data:`HOP_S` a band is judged (:mod:`edge.emotion_gate`): a band that lacks a channel, or whose
window has a flat or clipped one, is not run through the model and says so once, as a ``quality``
event of model ``emotion`` ("emotion not analysed: no PPG"); the others' windows are measured against
each wearer's own running baseline (:class:`~models.preprocessing.emotion.SubjectBaseline`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edge.alerts import AlertLabel, StressState
from edge.arrivals import ArrivalLog
from edge.buffers import RingBuffer
from edge.config import ModelName
from edge.dsp.emotion import EmotionSamples, model_inputs
from edge.emotion_gate import WINDOW_US, Verdicts, complete, missing_channel, window_problem
from edge.events import EventFactory
from edge.pipeline import Window, class_index
from iomt.wire.events import Event, Priority
from iomt.wire.frames import Frame
from models.preprocessing.emotion import HOP_S, RELATIVE_VERSION, WINDOW_S, SubjectBaseline
from models.preprocessing.emotion_quality import NotAnalysed
from models.runtime import ModelRunner

MODEL = ModelName.EMOTION
NEEDED = ("ecg", "eda", "ppg")
#: Label of the quality event that says a band is analysed again after a "not analysed" one.
ANALYSED = "analysed"

#: An emotion window carries nothing beyond its features.
EmotionWindow = Window[None]


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

    def __init__(self, events: EventFactory) -> None:
        self.events = events
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

    def ready(self) -> tuple[list[EmotionWindow], list[Event]]:
        """Windows of every due band that can be analysed (their inputs computed together, each against
        its wearer's baseline: :func:`edge.dsp.emotion.model_inputs`), and the "not analysed" verdicts
        that changed (:mod:`edge.emotion_gate`)."""
        if not self._due:
            return [], []
        events: list[Event] = []
        analysed: list[tuple[str, _Device]] = []
        samples: list[EmotionSamples] = []
        for device in self._due:
            dev = self._devices[device]
            b = dev.buffers
            verdict = missing_channel(b, dev.due_us)
            if verdict is None:
                if not complete(b):
                    dev.next_end_us = dev.due_us  # a stream still filling (start, gap): judge with its next frame
                    continue
                ecg, eda, ppg = (b[s].latest(b[s].capacity)[:, 0] for s in NEEDED)
                verdict = window_problem({"ecg": ecg, "eda": eda, "ppg": ppg})
            report, said = dev.verdicts.update(verdict)
            if report:
                events.append(self._verdict_event(device, said, (dev.due_us - WINDOW_US, dev.due_us)))
            if verdict is None:
                analysed.append((device, dev))
                samples.append((ecg, b["ecg"].rate_hz, eda, b["eda"].rate_hz, ppg, b["ppg"].rate_hz))
        self._due = {}
        windows: list[EmotionWindow] = []
        inputs = model_inputs(samples, [dev.baseline for _, dev in analysed])
        for (device, dev), x in zip(analysed, inputs, strict=True):
            end_us = min(dev.buffers[s].t_last_us for s in NEEDED)
            arrival = max(dev.arrivals[s].arrival_of(end_us) for s in NEEDED)  # the last stream to cover it
            windows.append(Window(device, end_us - round(WINDOW_S * 1e6), end_us, x, arrival, None))
        self.windows += len(windows)
        return windows, events

    def _verdict_event(self, device: str, verdict: NotAnalysed | None, window: tuple[int, int]) -> Event:
        """``emotion`` quality event: not analysed and why, or analysed again."""
        if verdict is None:
            return self.events.model_quality(
                device, MODEL, RELATIVE_VERSION, ANALYSED, False, window, {"message": "emotion analysed again"})
        detail = {"message": verdict.message, "channel": verdict.channel, "problem": verdict.problem}
        return self.events.model_quality(device, MODEL, RELATIVE_VERSION, verdict.label, True, window, detail)

    def on_outputs(
        self, windows: list[EmotionWindow], outputs: np.ndarray | None, runner: ModelRunner | None
    ) -> list[Event]:
        if outputs is None or runner is None:
            return []
        stress = class_index(runner, "stress")
        events = []
        for w, probs in zip(windows, outputs, strict=True):
            best = int(probs.argmax())
            window = (w.start_us, w.end_us)
            events.append(self.events.inference(
                w.device, MODEL, runner.version, runner.classes[best], float(probs[best]), window,
                {"probabilities": {c: round(float(p), 3) for c, p in zip(runner.classes, probs, strict=True)}},
            ))
            if stress is None:
                continue
            change = self._devices[w.device].stress.on_window(float(probs[stress]), w.end_us)
            if change is not None:
                state, mean, raised_by = change
                events.append(self.events.alert(
                    w.device, MODEL, runner.version, AlertLabel.STRESS, Priority.LOW, state, mean, window, raised_by,
                ))
        return events
