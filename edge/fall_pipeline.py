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
from edge.quality import motion_quality_many
from edge.quality_state import QualityTracker
from iomt.wire.events import AlertState, Event, EventKind, Priority
from iomt.wire.frames import Frame
from models.preprocessing.motion import HOP_S, WINDOW, WINDOW_S, motion_channels_many
from models.runtime import ModelRunner

MODEL = "fall"
BUFFER_S = 8.0
GYRO_WAIT_US = 1_000_000
FREE_FALL_G = 0.6
#: a window still pending that ends this long before a new frame's last sample is cut before the
#: frame is buffered (its start is about to leave the buffer)
_PUSH_OUT_US = round((BUFFER_S - WINDOW_S) * 1e6) - round(WINDOW_S * 1e6)


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

    def __init__(self, ctx: AlertContext, quality: QualityTracker, screen_g: float | None = 1.6) -> None:
        self.ctx = ctx
        self.quality = quality
        self.screen_g = screen_g
        self._devices: dict[str, _Device] = {}
        #: devices with windows pending since the last :meth:`ready` (a dict: ordered, unique)
        self._waiting: dict[str, None] = {}
        self._windows: list[Window] = []
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
        return [alert_event(
            self.ctx, device, MODEL, confirmed.version, "fall", Priority.HIGH, AlertState.RAISED, confirmed.score,
            confirmed.window, alert_id=f"fall-{device}-{confirmed.impact_us}", impact_us=confirmed.impact_us,
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
        """Model inputs (accelerometer + gyroscope channels) of windows that passed, one
        :func:`motion_channels_many` call per combination of rates and lengths."""
        groups: dict[tuple[float, float | None, int, int], list[int]] = {}
        for i, p in enumerate(passed):
            key = (p.cut.dev.acc.rate_hz, p.gyro_hz, p.acc.shape[0], 0 if p.gyro is None else p.gyro.shape[0])
            groups.setdefault(key, []).append(i)
        inputs: list[np.ndarray | None] = [None] * len(passed)
        for (acc_hz, gyro_hz, _, _), rows in groups.items():
            acc = np.stack([passed[i].acc for i in rows])
            gyros = [g for i in rows if (g := passed[i].gyro) is not None]
            gyro = np.stack(gyros) if gyros else None  # a group has a gyroscope rate or none at all
            channels = motion_channels_many(acc, acc_hz, gyro, gyro_hz)[:, -WINDOW:]
            if channels.shape[1] == WINDOW:
                for i, row in zip(rows, channels, strict=True):
                    inputs[i] = row
        for p, x in zip(passed, inputs, strict=True):
            if x is not None:
                self._windows.append(Window(p.cut.device, p.start_us, p.cut.end_us, x, p.arrival_ns, p.impact_us))

    def ready(self) -> tuple[list[Window], list[Event]]:
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
                device=w.device, model=MODEL, model_version=runner.version, kind=EventKind.INFERENCE,
                label="fall" if score >= dev.confirmer.threshold else "no_fall", score=score,
                window_start_us=w.start_us, window_end_us=w.end_us, t_us=w.end_us, site=self.ctx.site,
                node=self.ctx.node, detail={"impact_us": int(w.extra)},
            ))
        return events


def screen_windows(
    windows: list[np.ndarray], screen_g: float | None
) -> tuple[list[str | None], list[bool], list[int]]:
    """For accelerometer windows ``(n, 3)`` in g: the quality problem of each, whether the impact
    screen rules it out (no |acc| above ``screen_g`` and no free-fall dip below
    :data:`FREE_FALL_G`), and the sample index of its largest |acc|.

    Windows of one length are checked together, in one numpy pass.
    """
    problems: list[str | None] = [None] * len(windows)
    quiet = [False] * len(windows)
    peaks = [0] * len(windows)
    by_length: dict[int, list[int]] = {}
    for i, w in enumerate(windows):
        by_length.setdefault(w.shape[0], []).append(i)
    for rows in by_length.values():
        stack = np.stack([windows[i] for i in rows])
        magnitude = acc_magnitude(stack)
        found = motion_quality_many(stack)
        if screen_g is None:
            ruled_out = [False] * len(rows)
        else:
            ruled_out = ((magnitude.max(axis=1) < screen_g) & (magnitude.min(axis=1) > FREE_FALL_G)).tolist()
        for i, problem, out, peak in zip(rows, found, ruled_out, magnitude.argmax(axis=1).tolist(), strict=True):
            problems[i], quiet[i], peaks[i] = problem, out, peak
    return problems, quiet, peaks


def acc_magnitude(windows: np.ndarray) -> np.ndarray:
    """``|acc|`` of ``(k, n, channels)`` windows: ``np.linalg.norm(w, axis=-1)`` of each, to the bit
    (squares summed channel after channel, as numpy sums a short axis), without numpy's slow
    reduction over a short inner axis."""
    by_channel = np.ascontiguousarray(np.moveaxis(windows, -1, 0))
    total = by_channel[0] * by_channel[0]
    for channel in by_channel[1:]:
        total = total + channel * channel
    return np.sqrt(total)
