"""Motion: sliding windows for the fall model, confirmation by what follows the impact.

A cheap screen runs first: a window without an impact-like peak (|acc| above ``screen_g``) or a
free-fall dip cannot hold a fall, so only screened windows reach the model. Fall scores make
candidates in :class:`edge.alerts.FallConfirmer`, which raises the alert once the wearer has lain
still for a moment after the impact, and drops it if they got up.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edge.alerts import AlertContext, FallConfirmer, alert_event
from edge.arrivals import ArrivalLog
from edge.buffers import RingBuffer
from edge.pipeline import Window, class_index
from edge.quality import motion_quality
from edge.quality_state import QualityTracker
from iomt.wire.events import Event
from iomt.wire.frames import Frame
from models.preprocessing.motion import HOP_S, WINDOW, WINDOW_S, motion_channels
from models.runtime import ModelRunner

MODEL = "fall"
BUFFER_S = 8.0
GYRO_WAIT_US = 1_000_000
FREE_FALL_G = 0.6


@dataclass
class _Device:
    acc: RingBuffer
    gyro: RingBuffer | None = None
    arrivals: ArrivalLog = field(default_factory=ArrivalLog)
    gyro_arrivals: ArrivalLog = field(default_factory=ArrivalLog)
    next_total: int = 0
    #: device times at which a window ends, waiting until every stream covers them
    pending: list[int] = field(default_factory=list)
    confirmer: FallConfirmer = field(default_factory=FallConfirmer)
    version: str = ""


class FallPipeline:
    model = MODEL
    streams = frozenset({"acc", "gyro"})

    def __init__(self, ctx: AlertContext, quality: QualityTracker, screen_g: float | None = 1.6) -> None:
        self.ctx = ctx
        self.quality = quality
        self.screen_g = screen_g
        self._devices: dict[str, _Device] = {}
        self._windows: list[Window] = []
        self._events: list[Event] = []
        self.windows = 0
        self.screened_out = 0

    def on_frame(self, frame: Frame, arrival_ns: int) -> list[Event]:
        dev = self._devices.get(frame.device)
        if frame.stream == "gyro":
            if dev is not None:
                if dev.gyro is None or dev.gyro.rate_hz != frame.sample_rate:
                    dev.gyro = RingBuffer(round(BUFFER_S * frame.sample_rate), 3, frame.sample_rate)
                dev.gyro.extend(frame.values(), frame.t_last_us)
                dev.gyro_arrivals.add(frame.t_last_us, arrival_ns)
            return []
        if dev is None or dev.acc.rate_hz != frame.sample_rate:
            dev = self._devices[frame.device] = _Device(RingBuffer(round(BUFFER_S * frame.sample_rate), 3,
                                                                   frame.sample_rate))
            dev.next_total = round(WINDOW_S * frame.sample_rate)
        values = frame.values()
        # a window still waiting (for its gyroscope) is cut before this frame pushes its start out
        oldest_needed = frame.t_last_us - round((BUFFER_S - WINDOW_S) * 1e6)
        if dev.pending and dev.pending[0] <= oldest_needed + round(WINDOW_S * 1e6):
            self._cut_pending(frame.device, dev, force=True)
        dev.acc.extend(values, frame.t_last_us)
        dev.arrivals.add(frame.t_last_us, arrival_ns)
        # one window per hop, even when several hops arrive at once (a burst after a reconnect);
        # it is cut once the gyroscope covers it too (its frame may come right after this one)
        while dev.acc.total >= dev.next_total:
            dev.pending.append(dev.acc.time_of(dev.acc.total - dev.next_total))
            dev.next_total += round(HOP_S * frame.sample_rate)
        return self._confirm(frame.device, dev)

    def _confirm(self, device: str, dev: _Device) -> list[Event]:
        if dev.confirmer.candidate is None:
            return []
        rate = dev.acc.rate_hz
        magnitude = np.linalg.norm(dev.acc.latest(round(1.5 * rate)), axis=1)
        confirmed = dev.confirmer.on_motion(magnitude, dev.acc.t_last_us, rate)
        if confirmed is None:
            return []
        return [alert_event(
            self.ctx, device, MODEL, confirmed.version, "fall", "high", "raised", confirmed.score,
            confirmed.window, alert_id=f"fall-{device}-{confirmed.impact_us}", impact_us=confirmed.impact_us,
        )]

    def on_gap(self, device: str, stream: str) -> None:
        dev = self._devices.get(device)
        if dev is not None and stream == "acc":
            self._cut_pending(device, dev, force=True)  # windows already complete are not lost to the gap
            dev.acc.clear()
            dev.pending.clear()
            dev.next_total = dev.acc.total + round(WINDOW_S * dev.acc.rate_hz)

    def _cut_pending(self, device: str, dev: _Device, force: bool = False) -> None:
        keep = []
        for end_us in dev.pending:
            gyro_behind = dev.gyro is not None and dev.gyro.t_last_us < end_us
            # a gyroscope that fell a second behind is not waited for (its channels read as zero)
            if gyro_behind and not force and dev.acc.t_last_us - end_us < GYRO_WAIT_US:
                keep.append(end_us)
                continue
            self._cut(device, dev, end_us, use_gyro=not gyro_behind)
        dev.pending = keep

    def _cut(self, device: str, dev: _Device, end_us: int, use_gyro: bool) -> None:
        """Cut the window ending at device time ``end_us``, after the quality check and screen."""
        rate = dev.acc.rate_hz
        n = round(WINDOW_S * rate)
        skip = round((dev.acc.t_last_us - end_us) * rate / 1e6)
        acc = dev.acc.latest(n, skip)
        if acc.shape[0] < n:
            return
        start_us = dev.acc.time_of(skip + n - 1)
        problem = motion_quality(acc)
        change = self.quality.update(device, "acc", problem, (start_us, end_us))
        if change is not None:
            self._events.append(change)
        if problem is not None:
            return
        magnitude = np.linalg.norm(acc, axis=1)
        if self.screen_g is not None and magnitude.max() < self.screen_g and magnitude.min() > FREE_FALL_G:
            self.screened_out += 1
            return
        gyro = None
        arrival = dev.arrivals.arrival_of(end_us)
        if dev.gyro is not None and use_gyro:
            g_n = round(WINDOW_S * dev.gyro.rate_hz)
            g_skip = max(0, round((dev.gyro.t_last_us - end_us) * dev.gyro.rate_hz / 1e6))
            candidate = dev.gyro.latest(g_n, g_skip)
            if candidate.shape[0] == g_n:
                gyro = candidate
                arrival = max(arrival, dev.gyro_arrivals.arrival_of(end_us))
        x = motion_channels(acc, rate, gyro, dev.gyro.rate_hz if gyro is not None and dev.gyro else None)[-WINDOW:]
        if x.shape[0] < WINDOW:
            return
        impact_us = dev.acc.time_of(skip + n - 1 - int(magnitude.argmax()))
        self._windows.append(Window(device, start_us, end_us, x, arrival, impact_us))

    def ready(self) -> tuple[list[Window], list[Event]]:
        for device, dev in self._devices.items():
            if dev.pending:
                self._cut_pending(device, dev)
        windows, events = self._windows, self._events
        self._windows, self._events = [], []
        self.windows += len(windows)
        return windows, events

    def on_outputs(self, windows: list[Window], outputs: np.ndarray | None, runner: ModelRunner | None) -> list[Event]:
        if outputs is None or runner is None:
            return []
        fall = class_index(runner, "fall")
        if fall is None:
            fall = 1 if len(runner.classes) == 2 else 0
        events = []
        for w, probs in zip(windows, outputs, strict=True):
            score = float(probs[fall])
            dev = self._devices[w.device]
            dev.confirmer.on_score(score, (w.start_us, w.end_us), int(w.extra), runner.version)
            events.append(Event(
                device=w.device, model=MODEL, model_version=runner.version, kind="inference",
                label="fall" if score >= dev.confirmer.threshold else "no_fall", score=score,
                window_start_us=w.start_us, window_end_us=w.end_us, t_us=w.end_us, site=self.ctx.site,
                node=self.ctx.node, detail={"impact_us": int(w.extra)},
            ))
        return events
