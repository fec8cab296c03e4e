"""Emotion/stress: minute-long windows of ECG + EDA + PPG summarised by the shared feature code."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edge.alerts import AlertContext, StressState, alert_event
from edge.arrivals import ArrivalLog
from edge.buffers import RingBuffer
from edge.pipeline import Window, class_index
from iomt.wire.events import Event, EventKind, Priority
from iomt.wire.frames import Frame
from models.preprocessing.emotion import HOP_S, WINDOW_S, SubjectBaseline, window_features_many
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

    def ready(self) -> tuple[list[Window], list[Event]]:
        """Windows of every due device; features of windows with the same rates and lengths are
        computed together (:func:`window_features_many`)."""
        if not self._due:
            return [], []
        groups: dict[tuple[tuple[float, int], ...], list[tuple[str, list[np.ndarray]]]] = {}
        for device in self._due:
            b = self._devices[device].buffers
            signals = [b[s].latest(b[s].capacity)[:, 0] for s in NEEDED]
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
        return windows, []

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
