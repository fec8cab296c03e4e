"""Emotion/stress: minute-long windows of ECG + EDA + PPG summarised by the shared feature code."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edge.alerts import AlertContext, StressState, alert_event
from edge.arrivals import ArrivalLog
from edge.buffers import RingBuffer
from edge.pipeline import Window, class_index
from iomt.wire.events import Event
from iomt.wire.frames import Frame
from models.preprocessing.emotion import HOP_S, WINDOW_S, window_features
from models.runtime import ModelRunner

MODEL = "emotion"
NEEDED = ("ecg", "eda", "ppg")


@dataclass
class _Device:
    buffers: dict[str, RingBuffer] = field(default_factory=dict)
    arrivals: dict[str, ArrivalLog] = field(default_factory=dict)
    next_end_us: int = 0
    stress: StressState = field(default_factory=StressState)


class EmotionPipeline:
    model = MODEL
    streams = frozenset(NEEDED)

    def __init__(self, ctx: AlertContext) -> None:
        self.ctx = ctx
        self._devices: dict[str, _Device] = {}
        self._due: set[str] = set()
        self.windows = 0

    def on_frame(self, frame: Frame, arrival_ns: int) -> list[Event]:
        if frame.stream == "ecg" and frame.device not in self._devices:
            return []  # an ECG patch alone is not an emotion band; wait for EDA/PPG to show up
        dev = self._devices.setdefault(frame.device, _Device())
        buf = dev.buffers.get(frame.stream)
        if buf is None or buf.rate_hz != frame.sample_rate:
            buf = dev.buffers[frame.stream] = RingBuffer(round(WINDOW_S * frame.sample_rate), 1, frame.sample_rate)
        buf.extend(frame.values()[:, :1], frame.t_last_us)
        dev.arrivals.setdefault(frame.stream, ArrivalLog()).add(frame.t_last_us, arrival_ns)
        if all(s in dev.buffers and dev.buffers[s].filled == dev.buffers[s].capacity for s in NEEDED):
            end = min(dev.buffers[s].t_last_us for s in NEEDED)
            if end >= dev.next_end_us:
                dev.next_end_us = end + round(HOP_S * 1e6)
                self._due.add(frame.device)
        return []

    def on_gap(self, device: str, stream: str) -> None:
        dev = self._devices.get(device)
        if dev is not None and stream in dev.buffers:
            dev.buffers[stream].clear()

    def ready(self) -> tuple[list[Window], list[Event]]:
        windows = []
        for device in self._due:
            dev = self._devices[device]
            b = dev.buffers
            x = window_features(
                b["ecg"].latest(b["ecg"].capacity)[:, 0], b["ecg"].rate_hz,
                b["eda"].latest(b["eda"].capacity)[:, 0], b["eda"].rate_hz,
                b["ppg"].latest(b["ppg"].capacity)[:, 0], b["ppg"].rate_hz,
            )
            end_us = min(b[s].t_last_us for s in NEEDED)
            arrival = max(dev.arrivals[s].arrival_of(end_us) for s in NEEDED)  # the last stream to cover it
            windows.append(Window(device, end_us - round(WINDOW_S * 1e6), end_us, x, arrival))
        self._due.clear()
        self.windows += len(windows)
        return windows, []

    def on_outputs(self, windows: list[Window], outputs: np.ndarray | None, runner: ModelRunner | None) -> list[Event]:
        if outputs is None or runner is None:
            return []
        stress = class_index(runner, "stress")
        events = []
        for w, probs in zip(windows, outputs, strict=True):
            best = int(probs.argmax())
            events.append(Event(
                device=w.device, model=MODEL, model_version=runner.version, kind="inference",
                label=runner.classes[best], score=float(probs[best]), window_start_us=w.start_us,
                window_end_us=w.end_us, t_us=w.end_us, site=self.ctx.site, node=self.ctx.node,
                detail={"probabilities": {c: round(float(p), 3) for c, p in zip(runner.classes, probs, strict=True)}},
            ))
            if stress is None:
                continue
            change = self._devices[w.device].stress.on_window(float(probs[stress]))
            if change is not None:
                state, mean, alert_id = change
                events.append(alert_event(self.ctx, w.device, MODEL, runner.version, "stress", "low", state, mean,
                                          (w.start_us, w.end_us), alert_id))
        return events
