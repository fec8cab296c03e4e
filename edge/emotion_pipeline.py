"""Emotion/stress: minute-long windows of ECG + EDA + PPG summarised by the shared feature code."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edge.alerts import AlertLabel, StressState
from edge.arrivals import ArrivalLog
from edge.buffers import RingBuffer
from edge.config import ModelName
from edge.dsp.emotion import model_inputs
from edge.events import EventFactory
from edge.pipeline import Window, class_index
from iomt.wire.events import Event, Priority
from iomt.wire.frames import Frame
from models.preprocessing.emotion import HOP_S, WINDOW_S
from models.runtime import ModelRunner

MODEL = ModelName.EMOTION
NEEDED = ("ecg", "eda", "ppg")

#: An emotion window carries nothing beyond its features.
EmotionWindow = Window[None]


@dataclass
class _Device:
    buffers: dict[str, RingBuffer] = field(default_factory=dict)
    arrivals: dict[str, ArrivalLog] = field(default_factory=dict)
    next_end_us: int = 0
    stress: StressState = field(default_factory=StressState)


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
        ecg, eda, ppg = buffers.get("ecg"), buffers.get("eda"), buffers.get("ppg")
        if (ecg is not None and eda is not None and ppg is not None and ecg.filled == ecg.capacity
                and eda.filled == eda.capacity and ppg.filled == ppg.capacity):
            end = min(ecg.t_last_us, eda.t_last_us, ppg.t_last_us)
            if end >= dev.next_end_us:
                dev.next_end_us = end + round(HOP_S * 1e6)
                self._due[device] = None
        return []

    def on_gap(self, device: str, stream: str) -> None:
        dev = self._devices.get(device)
        if dev is not None and stream in dev.buffers:
            dev.buffers[stream].clear()

    def ready(self) -> tuple[list[EmotionWindow], list[Event]]:
        """Windows of every due device (their inputs computed together: :func:`edge.dsp.emotion.model_inputs`)."""
        if not self._due:
            return [], []
        due = [self._devices[device] for device in self._due]
        samples = []
        for dev in due:
            ecg, eda, ppg = (dev.buffers[s] for s in NEEDED)
            samples.append((ecg.latest(ecg.capacity)[:, 0], ecg.rate_hz, eda.latest(eda.capacity)[:, 0], eda.rate_hz,
                            ppg.latest(ppg.capacity)[:, 0], ppg.rate_hz))
        windows: list[EmotionWindow] = []
        for device, dev, x in zip(self._due, due, model_inputs(samples), strict=True):
            end_us = min(dev.buffers[s].t_last_us for s in NEEDED)
            arrival = max(dev.arrivals[s].arrival_of(end_us) for s in NEEDED)  # the last stream to cover it
            windows.append(Window(device, end_us - round(WINDOW_S * 1e6), end_us, x, arrival, None))
        self._due = {}
        self.windows += len(windows)
        return windows, []

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
