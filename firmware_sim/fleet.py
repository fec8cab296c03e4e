"""A fleet of simulated devices publishing their streams in real time (or as fast as possible).

Each stream emits one frame per ``frame_s`` of signal, published when its last sample has been
"acquired" (so latency is measured from a real acquisition instant). Devices are staggered within
the frame period to spread the load; the streams of one device id stay aligned. Link faults
(:class:`firmware_sim.faults.LinkShaper`) sit between the devices and the bus; ground truth goes to
a :class:`firmware_sim.truth.TruthSink`. Before the first frame, each device that declares a descriptor
(its motion sensor's placement and units, :mod:`iomt.wire.descriptor`) publishes it retained on its
descriptor topic; descriptors are not frames and are not counted in ``published``.
"""

from __future__ import annotations

import heapq
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from firmware_sim.devices import SimDevice, StreamSource
from firmware_sim.faults import LinkShaper, battery_pct
from firmware_sim.truth import TruthEvent, TruthSink
from iomt.transport import Delivery, MessageBus
from iomt.wire import topics
from iomt.wire.descriptor import encode_descriptor

log = logging.getLogger(__name__)

__all__ = ["Fleet", "FleetReport", "StreamSource"]

#: At most this many unacknowledged publishes; beyond it the fleet waits (and falls behind, which
#: the report shows) instead of exhausting the client's 65,535 message ids.
MAX_PENDING = 20_000


@dataclass
class FleetReport:
    """What was published, per stream; the basis for counting loss downstream."""

    published: int = 0
    samples: int = 0
    streams: dict[str, int] = field(default_factory=dict)
    started_us: int = 0
    duration_s: float = 0.0
    late_frames: int = 0
    max_lag_s: float = 0.0  # worst delay between a frame's acquisition end and its publication
    last_publish_s: float = 0.0  # when the last frame was handed to the bus, from the start
    truth_events: int = 0
    faults: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "published": self.published,
            "samples": self.samples,
            "streams": self.streams,
            "started_us": self.started_us,
            "duration_s": self.duration_s,
            "late_frames": self.late_frames,
            "max_lag_s": round(self.max_lag_s, 4),
            "truth_events": self.truth_events,
            "faults": self.faults,
        }


class Fleet:
    """Publishes every stream on ``bus`` until the duration has elapsed."""

    def __init__(self, bus: MessageBus, site: str, streams: list[StreamSource], qos: int = 1, *,
                 truth: TruthSink | None = None, faults: list[Any] | None = None, seed: int = 0,
                 truth_period_s: float = 1.0) -> None:
        self.bus = bus
        self.site = site
        self.streams = streams
        self.qos = qos
        self.truth = truth
        self.truth_period_s = truth_period_s
        self.report = FleetReport()
        self._stopped = False
        ids = list(dict.fromkeys(s.device for s in streams))
        rng = np.random.default_rng([seed, 0x5EED])
        self._shapers = {d: LinkShaper(faults or [], d, rng) for d in ids}
        self._shapers = {d: s for d, s in self._shapers.items() if s.faults}
        self._owners: list[SimDevice] = list({id(s.owner): s.owner for s in streams if s.owner is not None}.values())
        self._battery = {d for o in self._owners for d in [o.device_id] if battery_pct(o.faults, d, 0.0) is not None}
        # Faults are truth too (kind "device"): (start_s, device, fault), announced when they start.
        self._fault_truth = sorted(
            ((f.start_s, d, i) for i, f in enumerate(faults or []) for d in ids if f.matches(d)), reverse=True)
        self._faults = list(faults or [])
        #: (topic, payload) of each device's retained descriptor, one per device id
        self.descriptors = list({
            o.device_id: (topics.descriptor(site, o.device_id), encode_descriptor(d))
            for o in self._owners if (d := o.descriptor()) is not None}.values())
        period = min((s.frame_s for s in streams), default=0.5)
        self._stagger = {d: i / max(1, len(ids)) * period for i, d in enumerate(ids)}

    def stop(self) -> None:
        self._stopped = True

    def run(self, duration_s: float, realtime: bool = True, speed: float = 1.0) -> FleetReport:
        """Publish until ``duration_s`` of signal has been sent. ``realtime`` paces frames by the wall
        clock, ``speed`` times faster than real time; without it, frames go out as fast as possible."""
        for owner in self._owners:
            owner.prime()
        self._declare()
        start_wall_us = time.time_ns() // 1000
        start_mono = time.monotonic()
        self.report.started_us = start_wall_us
        for owner in self._owners:
            owner.bind(start_wall_us, self._stagger[owner.device_id])
        # (due offset in s, index, frame number): frame k of stream i covers [k*frame_s, (k+1)*frame_s)
        # shifted by the device's stagger, and is due when its last sample exists.
        heap = [(self._stagger[s.device] + s.frame_s - s.lead_s, i, 0) for i, s in enumerate(self.streams)]
        heapq.heapify(heap)
        pending: deque[Delivery] = deque()
        topic_of = [topics.data(self.site, s.device, s.stream) for s in self.streams]
        publish, qos, report = self.bus.publish, self.qos, self.report
        truth_due: dict[int, float] = {}
        while heap and not self._stopped:
            due, i, k = heap[0]
            if due > duration_s:
                heapq.heappop(heap)
                continue
            if realtime:
                wait = due / speed - (time.monotonic() - start_mono)
                if wait > 0:
                    time.sleep(min(wait, 0.05))
                    continue
                if wait < -0.25:
                    report.late_frames += 1
                if -wait > report.max_lag_s:
                    report.max_lag_s = -wait
            source = self.streams[i]
            heapq.heapreplace(heap, (due + source.frame_s, i, k + 1))
            if source.device in self._battery and self._dead(source, due):
                continue
            t0_us = start_wall_us + round((due - source.frame_s) * 1e6)
            out = source.render(source.seq, t0_us)
            source.seq += 1
            report.samples += source.samples_per_frame
            messages = [(topic_of[i], p) for p in out] if isinstance(out, list) else [(topic_of[i], out)]
            shaper = self._shapers.get(source.device)
            if shaper is not None:
                messages = shaper.shape(due, messages)
            for topic, payload in messages:
                pending.append(publish(topic, payload, qos))
            report.published += len(messages)
            while pending and pending[0].done():
                pending.popleft()
            while len(pending) > MAX_PENDING:  # backpressure: the client's message ids would run out
                pending.popleft().wait(30.0)
            device = source.owner
            if self.truth is not None and device is not None and due >= truth_due.get(id(device), 0.0):
                truth_due[id(device)] = due + self.truth_period_s  # truth goes out in batches, once a period
                events = device.take_truth(start_wall_us + round(due * 1e6))
                if self._fault_truth and self._fault_truth[-1][0] <= due:
                    events += self._started_faults(start_wall_us, due)
                if events:
                    self.truth.emit(events)
                    report.truth_events += len(events)
        report.last_publish_s = time.monotonic() - start_mono
        self._finish(start_wall_us, min(duration_s, (time.monotonic() - start_mono) * speed), pending)
        self.report.duration_s = time.monotonic() - start_mono
        return self.report

    def _declare(self) -> None:
        """Publish the descriptors, retained, and wait until the broker has them: the first frame of a
        device is then judged with its placement (one publisher's messages arrive in order)."""
        deliveries = [self.bus.publish(topic, payload, self.qos, retain=True) for topic, payload in self.descriptors]
        for delivery in deliveries:
            delivery.wait(30.0)

    def _started_faults(self, start_us: int, now_s: float) -> list[TruthEvent]:
        out = []
        while self._fault_truth and self._fault_truth[-1][0] <= now_s:
            t, device, i = self._fault_truth.pop()
            f = self._faults[i]
            end = f.end_s if f.end_s is not None else t
            out.append(TruthEvent(device, "device", f.type, start_us + round(t * 1e6), start_us + round(end * 1e6)))
        return out

    def _dead(self, source: StreamSource, due: float) -> bool:
        owner = source.owner
        return owner is not None and battery_pct(owner.faults, source.device, due) == 0.0

    def _finish(self, start_us: int, elapsed_s: float, pending: deque[Delivery]) -> None:
        for shaper in self._shapers.values():
            for topic, payload in shaper.flush():
                pending.append(self.bus.publish(topic, payload, self.qos))
                self.report.published += 1
        if self.truth is not None:
            for owner in self._owners:
                events = owner.take_truth(start_us + round(elapsed_s * 1e6))
                self.truth.emit(events)
                self.report.truth_events += len(events)
        for delivery in pending:
            delivery.wait(30.0)
        self.report.streams = {f"{s.device}/{s.stream}": s.seq for s in self.streams}
        counters: dict[str, int] = {"lost": 0, "duplicated": 0, "reordered": 0}
        for shaper in self._shapers.values():
            counters["lost"] += shaper.lost
            counters["duplicated"] += shaper.duplicated
            counters["reordered"] += shaper.reordered
        self.report.faults = counters
