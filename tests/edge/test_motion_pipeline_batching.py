"""The fall pipeline gives the same windows and quality events whether it cuts one device's window at a
time or the windows of every device in one batch."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from edge.events import EventFactory
from edge.fall_pipeline import FallPipeline
from edge.pipeline import Window
from edge.quality_state import QualityTracker
from iomt.wire.events import Event
from iomt.wire.frames import Frame, make_frame

T0 = 1_764_000_000_000_000
FRAME_S = 0.5
SECONDS = 14


def acc_signal(rng: np.random.Generator, kind: str, rate: float) -> np.ndarray:
    n = int(SECONDS * rate)
    a = np.column_stack([rng.normal(0, 0.08, n), rng.normal(0, 0.08, n), 1 + rng.normal(0, 0.08, n)])
    third = n // 3
    if kind == "impact":
        a[third : third + int(0.3 * rate)] = 0.1  # free fall, then the impact, then lying still
        a[third + int(0.3 * rate)] = [2.5, 1.5, 5.5]
        a[third + int(0.3 * rate) + 1 :] = [0.0, 1.0, 0.0]
    elif kind == "dead":
        a[third : 2 * third] = [0.0, 0.0, 1.0]
    elif kind == "clipped":
        a[third : 2 * third] = np.clip(a[third : 2 * third] * 40, -8, 8)
    elif kind == "active":
        a += np.sin(np.arange(n)[:, None] / rate * 2 * np.pi * 2.0) * 0.9
    return a


def device_frames(rng: np.random.Generator, device: str, kind: str, rate: float, gyro: bool) -> list[Frame]:
    acc = acc_signal(rng, kind, rate)
    rot = rng.normal(0, 40, acc.shape)
    per = int(FRAME_S * rate)
    frames = []
    for k in range(len(acc) // per):
        t0 = T0 + round(k * FRAME_S * 1e6)
        chunk = slice(k * per, (k + 1) * per)
        frames.append(make_frame(device, "acc", k, t0, rate, np.round(acc[chunk] * 2048).astype(np.int16), 1 / 2048))
        if gyro:
            frames.append(make_frame(device, "gyro", k, t0, rate, np.round(rot[chunk] * 10).astype(np.int16), 0.1))
    return frames


def rounds() -> list[list[Frame]]:
    """Frames of every device, grouped by the half second they were sent in."""
    rng = np.random.default_rng(21)
    kit = [("fall", "impact", 50.0, True), ("still", "calm", 50.0, True), ("dead", "dead", 50.0, True),
           ("clip", "clipped", 50.0, True), ("fast", "active", 100.0, True), ("nogyro", "impact", 50.0, False),
           ("walk", "active", 50.0, True)]
    per_device = [device_frames(rng, *spec) for spec in kit]
    out: list[list[Frame]] = []
    for frames in per_device:
        step = len(frames) // (SECONDS / FRAME_S)
        for k in range(int(SECONDS / FRAME_S)):
            while len(out) <= k:
                out.append([])
            out[k].extend(frames[int(k * step) : int((k + 1) * step)])
    return out


def run(batch_rounds: bool, screen_g: float | None) -> tuple[list[Window], list[Event], int]:
    pipe = FallPipeline(EventFactory("s", "n"), QualityTracker("s", "n"), screen_g=screen_g)
    windows: list[Window] = []
    events: list[Event] = []
    for frames in rounds():
        for frame in frames:
            events.extend(pipe.on_frame(frame, frame.t_last_us * 10))
            if not batch_rounds:  # every window is cut on its own
                w, e = pipe.ready()
                windows.extend(w)
                events.extend(e)
        w, e = pipe.ready()
        windows.extend(w)
        events.extend(e)
    return windows, events, pipe.screened_out


def key(w: Window) -> tuple[str, int]:
    return w.device, w.end_us


def test_windows_and_quality_events_are_the_same_cut_one_by_one_or_all_at_once() -> None:
    for screen_g in (1.6, None):
        one_by_one, events_one, screened_one = run(False, screen_g)
        batched, events_batched, screened_batched = run(True, screen_g)
        assert len(one_by_one) == len(batched) > 0 and screened_one == screened_batched
        for a, b in zip(sorted(one_by_one, key=key), sorted(batched, key=key), strict=True):
            assert (a.device, a.start_us, a.end_us, a.arrival_ns, a.extra) == (b.device, b.start_us, b.end_us,
                                                                               b.arrival_ns, b.extra)
            assert a.x.dtype == b.x.dtype and np.array_equal(a.x, b.x)

        def quality(events: list[Event]) -> list[tuple[str, str, int, int]]:
            found = [(e.device, e.label, e.window_start_us, e.window_end_us) for e in events if e.kind == "quality"]
            return sorted(found)

        assert quality(events_one) == quality(events_batched)
        labels = {(e.device, e.label) for e in events_batched}
        assert {("dead", "flat_line"), ("clip", "saturation"), ("dead", "signal_ok")} <= labels
    screened = {w.device for w in run(True, 1.6)[0]}
    assert {"fall", "nogyro"} <= screened and "still" not in screened  # the screen keeps impacts only
    no_gyro = [w for w in batched if w.device == "nogyro"]
    assert no_gyro and all(np.all(w.x[:, 3:] == 0) for w in no_gyro)


def test_a_window_is_frozen_and_its_extra_is_the_impact_time() -> None:
    windows, _events, _ = run(True, None)
    window = windows[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        window.arrival_ns = 0  # type: ignore[misc]
    assert isinstance(window.extra, int) and window.start_us <= window.extra <= window.end_us
