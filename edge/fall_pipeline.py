"""Motion: the fall detector of :mod:`models.fall_logic` on a node's device streams.

One :class:`~models.fall_logic.FallTracker` per device does the work the model does not: it finds
impacts (bursts of ``|a|`` above its screen), hands their orientation-invariant windows
(:func:`models.preprocessing.motion.impact_window`, input version 2) to the model, and judges each
impact on what follows it — posture relative to gravity, time on the ground, inactivity — within
10 s. This module only feeds it and turns its decisions into events:

* accelerometer frames are pushed as they come, each with the gyroscope samples that cover it
  (interpolated onto the accelerometer's sample times; a gyroscope that falls a second behind is not
  waited for and its last value is held). A device whose gyroscope has not appeared within a second
  of its first accelerometer frame is tracked accelerometer-only;
* impact windows go to the model in the node's batched inference cycle; their scores come back in
  :meth:`FallPipeline.on_outputs`;
* ``fall`` decisions raise a high-priority alert (id derived from the device and the impact time);
  ``device_removed`` decisions — a device lying dead still after an impact, or for
  :attr:`~models.fall_logic.FallLogicConfig.not_worn_s` without one — raise a technical event
  (kind ``quality``, label ``device_removed``), once until the device moves again, which is
  reported as ``device_worn``;
* every impact is judged on its own: there is no refractory period, so a fall two seconds after a
  false alert gets its own alert.

A sequence gap or a change of rate on the accelerometer starts a new tracker (samples on either side
of a gap are never spliced). An impact still awaiting its decision then is never dropped
(:meth:`~models.fall_logic.FallTracker.signal_lost`): one the model cleared is rejected as before, one
with two seconds or more of observation is judged on them, and any other waits for the signal
(:attr:`~models.fall_logic.FallLogicConfig.lost_wait_s`) and is judged on its first
:attr:`~models.fall_logic.FallLogicConfig.resume_observe_s` back (:func:`~models.fall_logic.judge_after_gap`,
against the posture before the impact, or before the last gap when the new tracker holds none):
back upright or moving, rejected; lying still, or no signal in time (a stream that stops for good
included: nothing follows it, so no gap is ever seen), a ``possible_fall`` alert ("possible fall:
signal lost after impact") — high priority when the model had called the impact a fall, medium when
the signal broke off before the model could see it. Why wait instead of alerting at the gap: a lossy
link drops frames right after ordinary steps, and alerting at once raised ~12 alerts an hour on real
daily activity with 1 % of frames lost (``python -m cloud.fall_lossy_eval``); why alert at all: a
patient on the floor after a fall is exactly when a body-worn link is likely to break off. An impact
whose model input is still being scored keeps its old tracker until its score is back. An impact too
soon after a gap for the model to see (it needs the seconds before the impact) is judged by the rules
alone against the posture from before the gap, and is a ``possible_fall`` if they confirm it.

**Placement.** A device's declared placement (its retained descriptor, :mod:`iomt.wire.descriptor`)
decides whether its motion is analysed (:mod:`models.fall_placement`): validated placements and
those analysed with a caveat are, and every fall-model event of the device carries
``detail.placement`` (and ``detail.placement_note`` with the caveat); a placement the model was not
validated for is not analysed at all, and a quality event of the fall model says so once
(``placement_not_supported``: "fall not analysed: placement ankle not supported by fall 1.1.0"), until
an ``analysed`` event when the placement changes to one that is.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edge.alerts import AlertLabel
from edge.buffers import RingBuffer
from edge.config import ModelName
from edge.dsp.quality import motion_quality_many
from edge.events import EventFactory
from edge.pipeline import Window, class_index
from edge.quality_state import QualityTracker
from iomt.wire.descriptor import DeviceDescriptor, Placement
from iomt.wire.events import AlertState, Event, Priority
from iomt.wire.frames import Frame
from models.fall_logic import (
    DEVICE_REMOVED,
    FALL,
    SIGNAL_LOST,
    FallDecision,
    FallLogicConfig,
    FallTracker,
    judge_after_gap,
)
from models.fall_placement import PlacementVerdict, placement_support
from models.preprocessing.motion import IMPACT_AT_S, WINDOW_S
from models.runtime import ModelRunner

MODEL = ModelName.FALL
#: Label of the technical event raised when a device is taken off or put down.
DEVICE_REMOVED_LABEL = "device_removed"
#: The quality label of a device that moves again after a device_removed (clears the station's alarm).
DEVICE_WORN_LABEL = "device_worn"
#: The fall model's quality label for a device whose declared placement it was not validated for.
PLACEMENT_UNSUPPORTED_LABEL = "placement_not_supported"
#: The label that ends a model's "not analysed" (the station's technical alarm clears on it).
ANALYSED_LABEL = "analysed"
#: Gyroscope history kept per device (s), and how long an accelerometer frame waits for it (µs).
GYRO_BUFFER_S = 4.0
GYRO_WAIT_US = 1_000_000
#: How often (ns) devices are looked at for an impact whose signal has not come back.
LOST_SCAN_NS = 1_000_000_000
#: Seconds of accelerometer per signal-quality check.
QUALITY_S = WINDOW_S


@dataclass(frozen=True, slots=True)
class Impact:
    """A motion window's ``extra``: the impact the window is centred on and the tracker judging it."""

    impact_id: int
    impact_us: int
    peak_g: float
    tracker: FallTracker


#: A fall-model input: the impact-centred window of one impact.
MotionWindow = Window[Impact]


@dataclass(slots=True)
class _Orphan:
    """A tracker retired by a gap whose impacts still await their model score."""

    tracker: FallTracker
    t0_us: int
    scored: dict[int, tuple[str, tuple[int, int]]]


@dataclass(frozen=True, slots=True)
class LostJudgement:
    """How an impact the signal broke off from was judged once the signal came back or stayed away:
    the device, the impact's device time, the decision's kind and the "possible fall" event raised
    (``None``: rejected). What :class:`FallPipeline`'s ``on_lost_judged`` observer receives."""

    device: str
    impact_us: int
    kind: str
    event: Event | None


@dataclass(slots=True)
class _Lost:
    """An impact the signal broke off from, waiting for the signal to come back (or not)."""

    decision: FallDecision
    t0_us: int
    version: str
    window: tuple[int, int]
    since_ns: int  # when the loss was noticed (the edge's monotonic clock)


@dataclass(slots=True)
class _Device:
    rate_hz: float
    order: int
    #: accelerometer frames ``(values g, t_last_us, arrival_ns)`` not yet pushed (waiting for the gyroscope)
    queue: list[tuple[np.ndarray, int, int]] = field(default_factory=list)
    first_us: int | None = None
    tracker: FallTracker | None = None
    tracker_gyro: bool = False
    #: device time (µs) of the tracker's first sample: tracker time t_s is ``t0_us + t_s * 1e6``
    t0_us: int = 0
    gyro: RingBuffer | None = None
    #: tracker sample count at which the next signal-quality check is due
    next_quality: int = 0
    #: model version and window of each impact scored, until decided
    scored: dict[int, tuple[str, tuple[int, int]]] = field(default_factory=dict)
    #: a device_removed event is out and the device has not moved since
    removed_open: bool = False
    #: the model version named by the open device_removed event (its device_worn names the same)
    removed_version: str = ""
    #: retired trackers (a gap) with impacts whose scores are still to come
    orphans: list[_Orphan] = field(default_factory=list)
    #: the "not analysed" reason reported for this device's placement, until it is analysed again
    refused: str | None = None
    #: impacts the signal broke off from, judged once it is back or has stayed away
    lost: list[_Lost] = field(default_factory=list)
    #: when the device's last accelerometer frame was handled (the pipeline's clock)
    seen_ns: int = 0
    #: the wearer's posture (mean g) from the last tracker retired without an impact pending
    posture: tuple[float, float, float] | None = None


class FallPipeline:
    model = MODEL
    streams = frozenset({"acc", "gyro"})

    def __init__(
        self, events: EventFactory, quality: QualityTracker, screen_g: float | None = None,
        logic: FallLogicConfig | None = None, model_version: Callable[[], str | None] | None = None,
        clock: Callable[[], int] = time.monotonic_ns,
        on_lost_judged: Callable[[LostJudgement], None] | None = None,
    ) -> None:
        """``screen_g`` overrides the impact screen of ``logic`` (default: the one the released model
        was trained behind; a lower screen shows the model more windows, as a load test does).
        ``model_version`` says which fall model runs now (``None``: none loaded), for the placement
        verdict (:func:`models.fall_placement.placement_support`). ``on_lost_judged`` observes every
        judgement of an impact the signal broke off from (the lossy-link evaluation counts them)."""
        self._on_lost_judged = on_lost_judged
        self.events = events
        self._model_version = model_version or (lambda: None)
        self._clock = clock
        self._scanned_ns = -LOST_SCAN_NS  # when devices were last looked at for a signal gone for good
        #: declared placements by device (absent: not declared)
        self._placements: dict[str, Placement] = {}
        #: events made outside a frame's handling (a gap retires a tracker), out with the next cycle
        self._stash: list[Event] = []
        self.quality = quality
        base = logic or FallLogicConfig()
        if screen_g is not None:
            from dataclasses import replace

            base = replace(base, screen_g=screen_g)
        self.logic = base
        self._devices: dict[str, _Device] = {}
        self._windows: list[MotionWindow] = []
        #: devices due a signal-quality check: the device time of their newest sample and their rate
        self._quality_due: dict[str, tuple[int, float]] = {}
        self.windows = 0
        self.decisions: dict[str, int] = {}

    # -- frames --------------------------------------------------------------------------------------

    def on_descriptor(self, device: str, descriptor: DeviceDescriptor | None) -> None:
        """A device declared (or withdrew, ``None``) its descriptor; its next frame is judged with it."""
        if descriptor is None or descriptor.motion is None:
            self._placements.pop(device, None)
        else:
            self._placements[device] = descriptor.placement

    def verdict(self, device: str) -> PlacementVerdict:
        """Whether (and with what caveat) ``device``'s motion is analysed by the running model."""
        return placement_support(self._placements.get(device), self._model_version())

    def _where(self, device: str) -> dict[str, Any]:
        """The placement fields every fall-model event of ``device`` carries."""
        verdict = self.verdict(device)
        where: dict[str, Any] = {"placement": self._placements.get(device, Placement.UNKNOWN).value}
        if verdict.note:
            where["placement_note"] = verdict.note
        return where

    def on_frame(self, frame: Frame, arrival_ns: int) -> list[Event]:
        device = frame.device
        dev = self._devices.get(device)
        verdict = self.verdict(device)
        if not verdict.analysed:
            if dev is None:
                dev = self._devices[device] = _Device(frame.sample_rate, len(self._devices))
            return self._refuse(device, dev, frame, verdict)
        if dev is not None and dev.refused is not None:
            dev.refused = None
            out = [self.events.model_quality(device, MODEL, self._model_version() or "", ANALYSED_LABEL, False,
                                             (frame.t0_us, frame.t_last_us), self._where(device))]
            return out + self.on_frame(frame, arrival_ns)
        if frame.stream == "gyro":
            if dev is None:
                dev = self._devices[device] = _Device(frame.sample_rate, len(self._devices))
            g = dev.gyro
            if g is None or g.rate_hz != frame.sample_rate:
                g = dev.gyro = RingBuffer(max(2, round(GYRO_BUFFER_S * frame.sample_rate)), 3, frame.sample_rate)
            g.extend(frame.values(), frame.t_last_us)
            return self._flush(device, dev)
        if dev is None:
            dev = self._devices[device] = _Device(frame.sample_rate, len(self._devices))
        elif dev.rate_hz != frame.sample_rate:
            self._restart(device, dev, frame.sample_rate)
        values = np.asarray(frame.values(), dtype=np.float64)
        dev.seen_ns = self._clock()
        if dev.first_us is None:
            dev.first_us = frame.t0_us
        dev.queue.append((values, frame.t_last_us, arrival_ns))
        return self._flush(device, dev)

    def _refuse(self, device: str, dev: _Device, frame: Frame, verdict: PlacementVerdict) -> list[Event]:
        """A frame of a device whose placement is not analysed: its tracker (if any) is retired, and the
        reason is reported once."""
        if dev.tracker is not None:
            self._restart(device, dev, dev.rate_hz)
        dev.queue.clear()
        dev.gyro = None
        if dev.refused == verdict.note:
            return []
        dev.refused = verdict.note
        return [self.events.model_quality(
            device, MODEL, self._model_version() or "", PLACEMENT_UNSUPPORTED_LABEL, True,
            (frame.t0_us, frame.t_last_us), {**self._where(device), "reason": f"fall not analysed: {verdict.note}"},
        )]

    def on_gap(self, device: str, stream: str) -> None:
        dev = self._devices.get(device)
        if dev is None:
            return
        if stream == "acc":
            self._stash.extend(self._flush(device, dev, force=True))
            self._restart(device, dev, dev.rate_hz)
        elif dev.gyro is not None:
            dev.gyro.clear()

    def _retire(self, device: str, dev: _Device) -> None:
        """The device's tracker ends here (a gap, a change of rate or of gyroscope): its pending impacts
        are decided now, or, awaiting a score, once it is back (the tracker kept as an orphan)."""
        tracker = dev.tracker
        if tracker is None:
            return
        dev.posture = tracker.posture() or tracker.posture_hint
        self._stash.extend(self._decision_events(device, dev, tracker.signal_lost(), dev.t0_us, dev.scored))
        if tracker.pending:
            dev.orphans.append(_Orphan(tracker, dev.t0_us, dict(dev.scored)))

    def _restart(self, device: str, dev: _Device, rate_hz: float) -> None:
        self._retire(device, dev)
        dev.rate_hz = rate_hz
        dev.queue.clear()
        dev.tracker = None
        dev.first_us = None
        dev.scored.clear()

    def _flush(self, device: str, dev: _Device, force: bool = False) -> list[Event]:
        """Push the queued accelerometer frames whose gyroscope samples have arrived (or will not)."""
        out: list[Event] = []
        while dev.queue:
            values, t_last, arrival = dev.queue[0]
            newest = dev.queue[-1][1]
            g = dev.gyro
            gyro_vals: np.ndarray | None = None
            if g is None or g.filled == 0:
                # no gyroscope yet: wait a second for one to appear before tracking without it
                started = dev.first_us if dev.first_us is not None else t_last
                if g is None and dev.tracker is None and not force and newest - started < GYRO_WAIT_US:
                    break
                if g is not None and dev.tracker_gyro:
                    gyro_vals = np.zeros_like(values)  # a gyroscope cleared by a gap: no rotation seen
            else:
                if g.t_last_us < t_last and not force and newest - t_last < GYRO_WAIT_US:
                    break
                gyro_vals = _gyro_at(g, t_last, len(values), dev.rate_hz)
            dev.queue.pop(0)
            out.extend(self._push(device, dev, values, t_last, arrival, gyro_vals))
        return out

    def _push(
        self, device: str, dev: _Device, acc: np.ndarray, t_last: int, arrival: int, gyro: np.ndarray | None
    ) -> list[Event]:
        if dev.tracker is None or dev.tracker_gyro != (gyro is not None):
            self._retire(device, dev)
            dev.tracker = FallTracker(dev.rate_hz, self.logic, posture_hint=dev.posture)
            dev.tracker_gyro = gyro is not None
            dev.t0_us = t_last - round((len(acc) - 1) * 1e6 / dev.rate_hz)
            dev.scored.clear()
            dev.next_quality = round(QUALITY_S * dev.rate_hz)
        tracker = dev.tracker
        for w in tracker.push(acc, gyro):
            impact_us = dev.t0_us + round(w.t_s * 1e6)
            start = impact_us - round(IMPACT_AT_S * 1e6)
            self._windows.append(Window(device, start, start + round(WINDOW_S * 1e6), w.x, arrival,
                                        Impact(w.impact_id, impact_us, w.peak_g, tracker)))
        if tracker.total >= dev.next_quality:
            dev.next_quality = tracker.total + round(QUALITY_S * dev.rate_hz)
            self._quality_due[device] = (t_last, dev.rate_hz)
        return self._decided(device, dev)

    def _decided(self, device: str, dev: _Device) -> list[Event]:
        """Events for the tracker's decisions so far, and for a device left dead still."""
        tracker = dev.tracker
        if tracker is None:
            return []
        found = tracker.decisions()
        removed = tracker.not_worn()
        if removed is not None:
            found.append(removed)
        out = self._decision_events(device, dev, found, dev.t0_us, dev.scored)
        n = round(self.logic.resume_observe_s * tracker.rate_hz)
        if dev.lost and tracker.total >= n:  # the signal is back: judge each waiting impact on it
            waiting, dev.lost = dev.lost, []
            now = self._clock()
            for lost in waiting:
                event = self._judge_lost(device, lost, tracker.latest(n), (now - lost.since_ns) / 1e9)
                out.extend([event] if event is not None else [])
        if dev.removed_open and not tracker.dead_still:
            dev.removed_open = False
            out.append(self._worn(device, dev))
        return out

    def _decision_events(
        self, device: str, dev: _Device, found: list[FallDecision], t0_us: int,
        scored: dict[int, tuple[str, tuple[int, int]]],
    ) -> list[Event]:
        """Events for decisions of a tracker whose first sample was at ``t0_us``."""
        out: list[Event] = []
        for d in found:
            if d.kind != SIGNAL_LOST:  # counted once judged (_judge_lost)
                self.decisions[d.kind] = self.decisions.get(d.kind, 0) + 1
            version, window = scored.pop(d.impact_id, ("", (0, 0)))
            if d.kind == FALL:
                out.append(self._alert(device, d, version, window, t0_us))
            elif d.kind == SIGNAL_LOST:  # judged when the signal is back, or has stayed away
                dev.lost.append(_Lost(d, t0_us, version, window, self._clock()))
            elif d.kind == DEVICE_REMOVED and not dev.removed_open:
                dev.removed_open = True
                out.append(self._removed(device, dev, d, version, t0_us))
        return out

    def _alert(self, device: str, d: FallDecision, version: str, window: tuple[int, int], t0_us: int) -> Event:
        impact_us = t0_us + round(d.t_s * 1e6)
        decided_us = t0_us + round(d.decided_t_s * 1e6)
        return self.events.alert(
            device, MODEL, version, AlertLabel.FALL, Priority.HIGH, AlertState.RAISED, float(d.score or 0.0),
            (window[0] or impact_us, decided_us), impact_us, impact_us=impact_us, peak_g=round(d.peak_g, 3),
            posture_change_deg=None if d.posture_change_deg is None else round(d.posture_change_deg, 1),
            confirmed_by=d.reason, **self._where(device),
        )

    def _possible_fall(
        self, device: str, d: FallDecision, version: str, window: tuple[int, int], t0_us: int
    ) -> Event:
        """"Possible fall: signal lost after impact": high when the model called the impact a fall,
        medium when the signal broke off before the model could see it (``score`` 0, ``detail.model_score``
        null)."""
        impact_us = t0_us + round(d.t_s * 1e6)
        lost_us = t0_us + round(d.decided_t_s * 1e6)
        judged = d.score is not None
        return self.events.alert(
            device, MODEL, version, AlertLabel.POSSIBLE_FALL, Priority.HIGH if judged else Priority.MEDIUM,
            AlertState.RAISED, float(d.score or 0.0), (window[0] or impact_us, max(lost_us, impact_us)), impact_us,
            impact_us=impact_us, peak_g=round(d.peak_g, 3), model_score=d.score, signal_lost_us=lost_us,
            reason=f"possible fall: {d.reason}", **self._where(device),
        )

    def _worn(self, device: str, dev: _Device) -> Event:
        """The device moves again after a ``device_removed``: the station clears that technical alarm."""
        assert dev.tracker is not None
        now_us = dev.t0_us + round(dev.tracker.total / dev.tracker.rate_hz * 1e6)
        return self.events.model_quality(device, MODEL, dev.removed_version, DEVICE_WORN_LABEL, False,
                                         (now_us, now_us), {"stream": "acc", **self._where(device)})

    def _removed(self, device: str, dev: _Device, d: FallDecision, version: str, t0_us: int) -> Event:
        since_us = t0_us + round(d.t_s * 1e6)
        decided_us = t0_us + round(d.decided_t_s * 1e6)
        dev.removed_version = version
        return self.events.model_quality(
            device, MODEL, version, DEVICE_REMOVED_LABEL, True, (since_us, decided_us),
            {"stream": "acc", "reason": d.reason, "after_impact": d.impact_id >= 0, **self._where(device)},
        )

    # -- inference cycle ------------------------------------------------------------------------------

    def ready(self) -> tuple[list[MotionWindow], list[Event]]:
        events = self._check_quality() if self._quality_due else []
        events += self._lost_for_good()
        if self._stash:
            events, self._stash = self._stash + events, []
        windows, self._windows = self._windows, []
        self.windows += len(windows)
        return windows, events

    def _lost_for_good(self) -> list[Event]:
        """Impacts whose signal has not come back within :attr:`FallLogicConfig.lost_wait_s`; a device
        whose stream stopped altogether with an impact pending (no gap is ever seen: nothing follows)
        has its tracker retired as at a gap, from its last frame on. Every device is looked at, so at
        most every :data:`LOST_SCAN_NS` (this runs every cycle; a second more on an 8 s wait is nothing)."""
        now, wait_ns = self._clock(), round(self.logic.lost_wait_s * 1e9)
        if now - self._scanned_ns < LOST_SCAN_NS:
            return []
        self._scanned_ns = now
        out: list[Event] = []
        for device, dev in self._devices.items():
            if dev.tracker is not None and dev.tracker.undecided and now - dev.seen_ns >= wait_ns:
                self._restart(device, dev, dev.rate_hz)
                for lost in dev.lost:
                    lost.since_ns = min(lost.since_ns, dev.seen_ns)
                out += self._stash
                self._stash = []
            if dev.lost and any(now - lost.since_ns >= wait_ns for lost in dev.lost):
                gone = [lost for lost in dev.lost if now - lost.since_ns >= wait_ns]
                dev.lost = [lost for lost in dev.lost if now - lost.since_ns < wait_ns]
                for lost in gone:
                    event = self._judge_lost(device, lost, None, (now - lost.since_ns) / 1e9)
                    out.extend([event] if event is not None else [])
        return out

    def _judge_lost(self, device: str, lost: _Lost, acc_after: np.ndarray | None, gone_s: float) -> Event | None:
        d = judge_after_gap(lost.decision, acc_after, gone_s, self.logic)
        self.decisions[d.kind] = self.decisions.get(d.kind, 0) + 1
        event = self._possible_fall(device, d, lost.version, lost.window, lost.t0_us) if d.kind == SIGNAL_LOST else None
        if self._on_lost_judged is not None:
            impact_us = lost.t0_us + round(lost.decision.t_s * 1e6)
            self._on_lost_judged(LostJudgement(device, impact_us, d.kind, event))
        return event

    def _check_quality(self) -> list[Event]:
        """One signal-quality verdict per device per :data:`QUALITY_S` of accelerometer (the newest
        samples its tracker holds), all devices due in one numpy pass (windows of one length together)."""
        due, self._quality_due = self._quality_due, {}
        by_length: dict[int, list[tuple[str, np.ndarray, int, float]]] = {}
        for device, (t_last, rate) in due.items():
            tracker = self._devices[device].tracker
            n = round(QUALITY_S * rate)
            if tracker is not None and tracker.total >= n:
                by_length.setdefault(n, []).append((device, tracker.latest(n), t_last, rate))
        out: list[Event] = []
        for n, group in by_length.items():
            problems = motion_quality_many(np.stack([samples for _, samples, _, _ in group]))
            for (device, _, t_last, rate), problem in zip(group, problems, strict=True):
                window = (t_last - round((n - 1) * 1e6 / rate), t_last)
                change = self.quality.update(device, "acc", problem, window)
                if change is not None:
                    out.append(change)
        return out

    def on_outputs(
        self, windows: list[MotionWindow], outputs: np.ndarray | None, runner: ModelRunner | None
    ) -> list[Event]:
        """Scores back to the trackers (no model loaded: every impact is scored 0, so nothing is called
        a fall but a device left dead still is still reported), one inference event per impact, and
        the events of any decision now complete."""
        fall = None
        if outputs is not None and runner is not None:
            fall = class_index(runner, "fall")
            if fall is None:
                fall = 1 if len(runner.classes) == 2 else 0
        events: list[Event] = []
        touched: dict[str, None] = {}
        for i, w in enumerate(windows):
            imp = w.extra
            dev = self._devices.get(w.device)
            score = 0.0 if outputs is None or fall is None else float(outputs[i][fall])
            try:
                imp.tracker.score(imp.impact_id, score)
            except KeyError:
                continue  # it was decided without a model input
            if dev is None:
                continue
            orphan = None
            if dev.tracker is not imp.tracker:
                orphan = next((o for o in dev.orphans if o.tracker is imp.tracker), None)
                if orphan is None:
                    continue
            else:
                touched[w.device] = None
            if runner is not None and outputs is not None:
                (orphan.scored if orphan else dev.scored)[imp.impact_id] = (runner.version, (w.start_us, w.end_us))
                label = "fall" if score >= self.logic.score_threshold else "no_fall"
                events.append(self.events.inference(
                    w.device, MODEL, runner.version, label, score, (w.start_us, w.end_us),
                    {"impact_us": imp.impact_us, "peak_g": round(imp.peak_g, 3), **self._where(w.device)},
                ))
            if orphan is not None:  # its stream broke off: decide now that the score is back
                events.extend(self._decision_events(w.device, dev, orphan.tracker.signal_lost(), orphan.t0_us,
                                                    orphan.scored))
                if not orphan.tracker.pending:
                    dev.orphans.remove(orphan)
        for device in touched:
            events.extend(self._decided(device, self._devices[device]))
        return events


def _gyro_at(g: RingBuffer, t_last_us: int, n: int, rate_hz: float) -> np.ndarray:
    """The gyroscope (deg/s) at the sample times of ``n`` accelerometer samples at ``rate_hz`` ending at
    ``t_last_us``: its own samples when they were taken at those times (the usual case: one clock, one
    rate), else linear interpolation between them, its ends held."""
    if g.rate_hz == rate_hz:
        offset = (g.t_last_us - t_last_us) * rate_hz / 1e6
        k = round(offset)
        if abs(offset - k) < 1e-3 and k >= 0 and k + n <= g.filled:
            return g.latest(n, k)
    span_us = (n - 1) * 1e6 / rate_hz
    ahead = max(0, round((g.t_last_us - t_last_us) * g.rate_hz / 1e6))
    samples = g.latest(min(g.filled, round(span_us * g.rate_hz / 1e6) + 3 + ahead)).astype(np.float64)
    g_times = g.t_last_us - (np.arange(len(samples) - 1, -1, -1) * 1e6 / g.rate_hz)
    a_times = t_last_us - (np.arange(n - 1, -1, -1) * 1e6 / rate_hz)
    return np.column_stack([np.interp(a_times, g_times, samples[:, c]) for c in range(3)])
