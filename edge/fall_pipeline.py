"""Motion: which devices have sliding windows due for the fall model, their buffers, and the
confirmation of a fall by what follows the impact.

Due windows of every device are cut together once their gyroscope covers them too; the quality
check, the impact screen (``screen_g``) and the model-input assembly run over all of them at once
(:mod:`edge.dsp.motion`). Fall scores make candidates in :class:`edge.alerts.FallConfirmer`, which
raises the alert once the wearer has lain still for a moment after the impact, and drops it if
they got up.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edge.alerts import AlertLabel, FallConfirmer
from edge.arrivals import ArrivalLog
from edge.buffers import RingBuffer
from edge.config import ModelName
from edge.dsp.motion import model_inputs, screen_windows
from edge.events import EventFactory
from edge.pipeline import Window, class_index
from edge.quality_state import QualityTracker
from iomt.wire.events import AlertState, Event, Priority
from iomt.wire.frames import Frame
from models.preprocessing.motion import HOP_S, WINDOW_S
from models.runtime import ModelRunner

MODEL = ModelName.FALL
BUFFER_S = 8.0
GYRO_WAIT_US = 1_000_000
#: a window still pending that ends this long before a new frame's last sample is cut before the
#: frame is buffered (its start is about to leave the buffer)
_PUSH_OUT_US = round((BUFFER_S - WINDOW_S) * 1e6) - round(WINDOW_S * 1e6)

#: A motion window's ``extra``: the device time (µs) of its largest |acc| (the impact, if it is a fall).
MotionWindow = Window[int]


@dataclass(slots=True)
class _Device:
    acc: RingBuffer
    #: accelerometer samples in one window and in one hop, at the accelerometer's rate
    window_n: int
    hop_n: int
    #: position of the device among all devices (windows are cut in this order)
    order: int
    gyro: RingBuffer | None = None
    arrivals: ArrivalLog = field(default_factory=ArrivalLog)
    gyro_arrivals: ArrivalLog = field(default_factory=ArrivalLog)
    next_total: int = 0
    #: device times at which a window ends, waiting until every stream covers them
    pending: list[int] = field(default_factory=list)
    confirmer: FallConfirmer = field(default_factory=FallConfirmer)
    version: str = ""


@dataclass(slots=True)
class _Cut:
    """A window due to be cut: the device, the device time its last sample was taken, and whether
    the gyroscope covers it."""

    device: str
    dev: _Device
    end_us: int
    use_gyro: bool


@dataclass(slots=True)
class _Passed:
    """A window that passed the quality check and the impact screen, waiting for assembly."""

    cut: _Cut
    start_us: int
    acc: np.ndarray
    impact_us: int
    arrival_ns: int
    gyro: np.ndarray | None
    gyro_hz: float | None


class FallPipeline:
    model = MODEL
    streams = frozenset({"acc", "gyro"})

    def __init__(self, events: EventFactory, quality: QualityTracker, screen_g: float | None = 1.6) -> None:
        self.events = events
        self.quality = quality
        self.screen_g = screen_g
        self._devices: dict[str, _Device] = {}
        #: devices with windows pending since the last :meth:`ready` (a dict: ordered, unique)
        self._waiting: dict[str, None] = {}
        self._windows: list[MotionWindow] = []
        self._events: list[Event] = []
        self.windows = 0
        self.screened_out = 0

    def on_frame(self, frame: Frame, arrival_ns: int) -> list[Event]:
        device = frame.device
        dev = self._devices.get(device)
        if frame.stream == "gyro":
            if dev is not None:
                gyro = dev.gyro
                if gyro is None or gyro.rate_hz != frame.sample_rate:
                    gyro = dev.gyro = RingBuffer(round(BUFFER_S * frame.sample_rate), 3, frame.sample_rate)
                t_last = frame.t_last_us
                gyro.extend(frame.values(), t_last)
                dev.gyro_arrivals.add(t_last, arrival_ns)
            return []
        if dev is None or dev.acc.rate_hz != frame.sample_rate:
            dev = self._devices[device] = self._new_device(frame.sample_rate, dev)
        t_last = frame.t_last_us
        # a window still waiting (for its gyroscope) is cut before this frame pushes its start out
        if dev.pending and dev.pending[0] <= t_last - _PUSH_OUT_US:
            self._cut_many(self._take_due(device, dev, force=True))
        acc = dev.acc
        acc.extend(frame.values(), t_last)
        dev.arrivals.add(t_last, arrival_ns)
        # one window per hop, even when several hops arrive at once (a burst after a reconnect);
        # it is cut once the gyroscope covers it too (its frame may come right after this one)
        if acc.total >= dev.next_total:
            while acc.total >= dev.next_total:
                dev.pending.append(acc.time_of(acc.total - dev.next_total))
                dev.next_total += dev.hop_n
            self._waiting[device] = None
        if dev.confirmer.candidate is None:
            return []
        return self._confirm(device, dev)

    def _new_device(self, rate_hz: float, previous: _Device | None) -> _Device:
        window_n = round(WINDOW_S * rate_hz)
        order = previous.order if previous is not None else len(self._devices)
        dev = _Device(RingBuffer(round(BUFFER_S * rate_hz), 3, rate_hz), window_n, round(HOP_S * rate_hz), order)
        dev.next_total = window_n
        return dev

    def _confirm(self, device: str, dev: _Device) -> list[Event]:
        rate = dev.acc.rate_hz
        magnitude = np.linalg.norm(dev.acc.latest(round(1.5 * rate)), axis=1)
        confirmed = dev.confirmer.on_motion(magnitude, dev.acc.t_last_us, rate)
        if confirmed is None:
            return []
        return [self.events.alert(
            device, MODEL, confirmed.version, AlertLabel.FALL, Priority.HIGH, AlertState.RAISED, confirmed.score,
            confirmed.window, confirmed.impact_us, impact_us=confirmed.impact_us,
        )]

    def on_gap(self, device: str, stream: str) -> None:
        dev = self._devices.get(device)
        if dev is not None and stream == "acc":
            # windows already complete are not lost to the gap
            self._cut_many(self._take_due(device, dev, force=True))
            dev.acc.clear()
            dev.pending.clear()
            dev.next_total = dev.acc.total + dev.window_n

    def _take_due(self, device: str, dev: _Device, force: bool = False) -> list[_Cut]:
        """Take the device's pending windows that can be cut now; the rest keep waiting."""
        keep = []
        due = []
        gyro = dev.gyro
        for end_us in dev.pending:
            gyro_behind = gyro is not None and gyro.t_last_us < end_us
            # a gyroscope that fell a second behind is not waited for (its channels read as zero)
            if gyro_behind and not force and dev.acc.t_last_us - end_us < GYRO_WAIT_US:
                keep.append(end_us)
                continue
            due.append(_Cut(device, dev, end_us, not gyro_behind))
        dev.pending = keep
        return due

    def _cut_many(self, cuts: list[_Cut]) -> None:
        """Cut the due windows of any number of devices, in order: the quality check and the impact
        screen run over all of them in one numpy pass, and so does the assembly of the model input
        of those that pass."""
        taken: list[tuple[_Cut, int, np.ndarray]] = []
        for cut in cuts:
            acc = cut.dev.acc
            skip = round((acc.t_last_us - cut.end_us) * acc.rate_hz / 1e6)
            window = acc.latest(cut.dev.window_n, skip)
            if window.shape[0] == cut.dev.window_n:
                taken.append((cut, skip, window))
        if not taken:
            return
        problems, quiet, peaks = screen_windows([w for _, _, w in taken], self.screen_g)
        passed: list[_Passed] = []
        for (cut, skip, acc_window), problem, is_quiet, peak in zip(taken, problems, quiet, peaks, strict=True):
            dev = cut.dev
            start_us = dev.acc.time_of(skip + dev.window_n - 1)
            change = self.quality.update(cut.device, "acc", problem, (start_us, cut.end_us))
            if change is not None:
                self._events.append(change)
            if problem is not None:
                continue
            if is_quiet:
                self.screened_out += 1
                continue
            passed.append(self._with_gyro(cut, start_us, acc_window, dev.acc.time_of(skip + dev.window_n - 1 - peak)))
        if passed:
            self._assemble(passed)

    def _with_gyro(self, cut: _Cut, start_us: int, acc: np.ndarray, impact_us: int) -> _Passed:
        """A window that passed the checks, with the gyroscope samples that cover it (if any) and
        the arrival of the last frame either stream needed."""
        dev, end_us = cut.dev, cut.end_us
        arrival = dev.arrivals.arrival_of(end_us)
        g = dev.gyro
        if g is not None and cut.use_gyro:
            g_n = round(WINDOW_S * g.rate_hz)
            g_skip = max(0, round((g.t_last_us - end_us) * g.rate_hz / 1e6))
            candidate = g.latest(g_n, g_skip)
            if candidate.shape[0] == g_n:
                arrival = max(arrival, dev.gyro_arrivals.arrival_of(end_us))
                return _Passed(cut, start_us, acc, impact_us, arrival, candidate, g.rate_hz)
        return _Passed(cut, start_us, acc, impact_us, arrival, None, None)

    def _assemble(self, passed: list[_Passed]) -> None:
        """Windows (with their model inputs, :func:`~edge.dsp.motion.model_inputs`) of those that passed."""
        inputs = model_inputs([(p.acc, p.cut.dev.acc.rate_hz, p.gyro, p.gyro_hz) for p in passed])
        for p, x in zip(passed, inputs, strict=True):
            if x is not None:
                self._windows.append(Window(p.cut.device, p.start_us, p.cut.end_us, x, p.arrival_ns, p.impact_us))

    def ready(self) -> tuple[list[MotionWindow], list[Event]]:
        if self._waiting:
            devices = self._devices
            waiting = sorted(self._waiting, key=lambda d: devices[d].order)
            self._waiting = {}
            cuts = []
            for device in waiting:
                dev = devices[device]
                cuts.extend(self._take_due(device, dev))
                if dev.pending:
                    self._waiting[device] = None
            self._cut_many(cuts)
        windows, events = self._windows, self._events
        self._windows, self._events = [], []
        self.windows += len(windows)
        return windows, events

    def on_outputs(
        self, windows: list[MotionWindow], outputs: np.ndarray | None, runner: ModelRunner | None
    ) -> list[Event]:
        if outputs is None or runner is None:
            return []
        fall = class_index(runner, "fall")
        if fall is None:
            fall = 1 if len(runner.classes) == 2 else 0
        events = []
        for w, probs in zip(windows, outputs, strict=True):
            score = float(probs[fall])
            dev = self._devices[w.device]
            dev.confirmer.on_score(score, (w.start_us, w.end_us), w.extra, runner.version)
            label = "fall" if score >= dev.confirmer.threshold else "no_fall"
            events.append(self.events.inference(
                w.device, MODEL, runner.version, label, score, (w.start_us, w.end_us), {"impact_us": w.extra},
            ))
        return events
