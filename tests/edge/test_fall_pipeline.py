"""The edge's fall pipeline around :class:`models.fall_logic.FallTracker`: each impact judged on its
own (a fall right after a false alert is alerted), a device taken off raises ``device_removed``
and no fall, the gyroscope waited for and aligned, and quality events on change.

Pure logic: frames are built by hand and the model is a stand-in that gives every impact window the
same fall probability (the real model runs in tests/edge/test_fall_orientation.py)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.events import EventFactory
from edge.fall_pipeline import DEVICE_REMOVED_LABEL, DEVICE_WORN_LABEL, FallPipeline, MotionWindow
from edge.quality_state import QualityTracker
from gateway.vitals.technical import stream_problem
from iomt.wire.events import Event, EventKind
from iomt.wire.frames import make_frame

FS = 50.0
T0 = 1_764_000_000_000_000
UP = np.array([0.0, 0.0, 1.0])
SIDE = np.array([1.0, 0.0, 0.0])
PRONE = np.array([0.0, 1.0, 0.0])


@dataclass
class StandIn:
    """What the pipeline reads of a model runner: classes, version, and a probability per window."""

    p_fall: float
    classes: tuple[str, ...] = ("no_fall", "fall")
    version: str = "test"

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.tile([1 - self.p_fall, self.p_fall], (len(x), 1))


class Recording:
    """A body-worn accelerometer (g) and gyroscope (deg/s) built segment by segment."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        self.acc: list[np.ndarray] = []
        self.gyro: list[np.ndarray] = []

    @property
    def t(self) -> float:
        return sum(len(a) for a in self.acc) / FS

    def hold(self, gravity: np.ndarray, seconds: float, noise_g: float = 0.02, gyro_dps: float = 2.0) -> Recording:
        """A person in one posture: gravity along ``gravity`` with the small motion of a living body."""
        n = round(seconds * FS)
        self.acc.append(gravity + self.rng.normal(0, noise_g, (n, 3)))
        self.gyro.append(self.rng.normal(0, gyro_dps, (n, 3)))
        return self

    def still(self, gravity: np.ndarray, seconds: float) -> Recording:
        """A device lying on a table: gravity only, sensor noise far below a body's."""
        return self.hold(gravity, seconds, noise_g=0.0004, gyro_dps=0.02)

    def fall(self, before: np.ndarray, after: np.ndarray, peak_g: float = 3.5) -> Recording:
        """0.5 s of turning from ``before`` to ``after`` with a dip, then an impact of ``peak_g``."""
        n = round(0.5 * FS)
        w = np.linspace(0, 1, n)[:, None]
        turn = (1 - w) * before + w * after
        turn = 0.4 * turn / np.linalg.norm(turn, axis=1, keepdims=True)
        self.acc.append(turn)
        self.gyro.append(np.tile([0.0, 150.0, 0.0], (n, 1)))
        spike = np.outer(np.hanning(7), after) * peak_g + after
        self.acc.append(spike)
        self.gyro.append(self.rng.normal(0, 20.0, (7, 3)))
        return self

    def frames(self, device: str = "p1", frame_s: float = 0.5) -> list[tuple[str, np.ndarray, int]]:
        acc, gyro = np.concatenate(self.acc), np.concatenate(self.gyro)
        n = round(frame_s * FS)
        out = []
        for k in range(len(acc) // n):
            t0 = T0 + round(k * frame_s * 1e6)
            out.append(("acc", acc[k * n:(k + 1) * n], t0))
            out.append(("gyro", gyro[k * n:(k + 1) * n], t0))
        return out


def run(rec: Recording, p_fall: float = 0.9, *, gyro: bool = True) -> tuple[list[Event], FallPipeline]:
    pipe = FallPipeline(EventFactory("s", "n"), QualityTracker("s", "n"))
    model = StandIn(p_fall)
    events: list[Event] = []
    for k, (stream, values, t0) in enumerate(rec.frames()):
        if stream == "gyro" and not gyro:
            continue
        scale = 1 / 4096 if stream == "acc" else 1 / 16
        frame = make_frame("p1", stream, k // 2, t0, FS, np.round(values / scale).astype(np.int16), scale)
        events += pipe.on_frame(frame, 0)
        windows, cut = pipe.ready()
        events += cut
        if windows:
            events += pipe.on_outputs(windows, model.predict(np.stack([w.x for w in windows])), model)  # type: ignore[arg-type]
    return events, pipe


def falls(events: list[Event]) -> list[Event]:
    return [e for e in events if e.kind == EventKind.ALERT and e.label == "fall"]


def removed(events: list[Event]) -> list[Event]:
    return [e for e in events if e.label == DEVICE_REMOVED_LABEL]


def impact_s(e: Event) -> float:
    return (int(e.detail["impact_us"]) - T0) / 1e6


def test_a_fall_alerts_within_10_s_of_the_impact_with_its_impact_time() -> None:
    rec = Recording().hold(UP, 8)
    t_impact = rec.t + 0.5 + 3 / FS
    rec.fall(UP, SIDE).hold(SIDE, 12)
    events, _ = run(rec)
    [alert] = falls(events)
    assert abs(impact_s(alert) - t_impact) < 0.1
    assert alert.priority == "high" and alert.state == "raised" and alert.model_version == "test"
    assert (alert.t_us - T0) / 1e6 - t_impact <= 10.0
    assert alert.detail["posture_change_deg"] > 60
    inferences = [e for e in events if e.kind == EventKind.INFERENCE]
    assert len(inferences) == 1 and inferences[0].label == "fall"


def test_a_fall_two_seconds_after_a_false_alert_gets_its_own_alert() -> None:
    """Lying down fast on a bed (the stand-in model calls it a fall: a false alert), then, 2 s after
    that alert went out, rolling off the bed onto the floor face down: the second impact is judged on
    its own, not hidden by the first."""
    rec = Recording(seed=3).hold(UP, 8)
    first = rec.t + 0.5 + 3 / FS
    rec.fall(UP, SIDE, peak_g=2.6).hold(SIDE, 7.0)
    first_events, _ = run(Recording(seed=3).hold(UP, 8).fall(UP, SIDE, peak_g=2.6).hold(SIDE, 7.5))
    [false_alert] = falls(first_events)
    alert_at = (false_alert.t_us - T0) / 1e6
    rec.hold(SIDE, alert_at + 2.0 - rec.t - 0.5 - 3 / FS)
    second = rec.t + 0.5 + 3 / FS
    assert abs(second - (alert_at + 2.0)) < 0.05
    rec.fall(SIDE, PRONE).hold(PRONE, 12)
    events, _ = run(rec)
    alerts = falls(events)
    assert [round(impact_s(a), 1) for a in alerts] == [round(first, 1), round(second, 1)]
    assert len({a.event_id for a in alerts}) == 2


def test_a_device_taken_off_and_put_down_raises_device_removed_not_a_fall() -> None:
    rec = Recording(seed=5).hold(UP, 10).still(SIDE, 40)
    events, pipe = run(rec)
    assert falls(events) == []
    [event] = removed(events)
    assert event.kind == EventKind.QUALITY and event.priority == "medium" and event.model == "fall"
    assert event.detail["after_impact"] is False
    # reported once for the stretch it lies there, not again every few seconds
    assert pipe.decisions.get("device_removed", 0) >= 1


def test_a_device_worn_again_after_device_removed_says_so_once_and_it_clears_the_stations_alarm() -> None:
    rec = Recording(seed=5).hold(UP, 10).still(SIDE, 40).hold(UP, 20, noise_g=0.1)
    events, _ = run(rec)
    [off] = removed(events)
    worn = [e for e in events if e.label == DEVICE_WORN_LABEL]
    assert len(worn) == 1 and worn[0].t_us > off.t_us
    assert worn[0].kind == EventKind.QUALITY and worn[0].priority == "info" and worn[0].model == "fall"
    assert worn[0].model_version == off.model_version
    assert falls(events) == []
    # the gateway's station reads the pair as "acc: device removed" then "acc: problem over"
    assert stream_problem(off) == ("acc", "device_removed") and stream_problem(worn[0]) == ("acc", None)


def test_a_device_left_lying_says_nothing_more() -> None:
    events, _ = run(Recording(seed=5).hold(UP, 10).still(SIDE, 40))
    assert [e for e in events if e.label == DEVICE_WORN_LABEL] == []


def test_a_dropped_device_raises_device_removed_not_a_fall() -> None:
    rec = Recording(seed=6).hold(UP, 8).fall(UP, SIDE, peak_g=4.0).still(SIDE, 40)
    events, _ = run(rec)
    assert falls(events) == []
    [event] = removed(events)
    assert event.detail["after_impact"] is True


def test_getting_up_after_the_impact_is_not_a_fall_and_a_low_score_is_not_either() -> None:
    rec = Recording(seed=7).hold(UP, 8).fall(UP, SIDE).hold(SIDE, 1.5).hold(UP, 12, noise_g=0.1)
    events, _ = run(rec)
    assert falls(events) == []
    events, _ = run(Recording(seed=8).hold(UP, 8).fall(UP, SIDE).hold(SIDE, 12), p_fall=0.1)
    assert falls(events) == []
    assert [e.label for e in events if e.kind == EventKind.INFERENCE] == ["no_fall"]


def test_an_accelerometer_only_device_is_tracked_without_waiting_for_a_gyroscope() -> None:
    rec = Recording(seed=9).hold(UP, 8).fall(UP, SIDE).hold(SIDE, 12)
    events, _ = run(rec, gyro=False)
    assert len(falls(events)) == 1


def test_a_lagging_gyroscope_is_waited_for_and_aligned_and_a_missing_one_does_not_stall() -> None:
    rec = Recording(seed=10).hold(UP, 6).fall(UP, SIDE).hold(SIDE, 4)
    frames = rec.frames()
    acc = [make_frame("p1", "acc", k, t0, FS, np.round(v * 4096).astype(np.int16), 1 / 4096)
           for k, (_, v, t0) in enumerate(f for f in frames if f[0] == "acc")]
    gyro = [make_frame("p1", "gyro", k, t0, FS, np.round(v * 16).astype(np.int16), 1 / 16)
            for k, (_, v, t0) in enumerate(f for f in frames if f[0] == "gyro")]
    # the gyroscope's frame comes one frame late: the accelerometer waits for it, so the impact
    # window carries the rotation of the fall
    pipe = FallPipeline(EventFactory("s", "n"), QualityTracker("s", "n"))
    windows: list[MotionWindow] = []
    for k, a in enumerate(acc):
        pipe.on_frame(a, 0)
        if k:
            pipe.on_frame(gyro[k - 1], 0)
        windows += pipe.ready()[0]
    assert len(windows) == 1 and abs(windows[0].x[:, 5]).max() > 1.0  # 150 deg/s about a horizontal axis
    # the gyroscope stops after its first frame: the accelerometer is not held back for more than a second
    pipe = FallPipeline(EventFactory("s", "n"), QualityTracker("s", "n"))
    windows = []
    pipe.on_frame(gyro[0], 0)
    for a in acc:
        pipe.on_frame(a, 0)
        windows += pipe.ready()[0]
    assert len(windows) == 1 and abs(windows[0].x[:, 5]).max() < 0.2


def test_a_flat_accelerometer_raises_one_quality_event() -> None:
    rec = Recording(seed=11).hold(UP, 4)
    rec.acc.append(np.tile(UP, (round(6 * FS), 1)))
    rec.gyro.append(np.zeros((round(6 * FS), 3)))
    events, _ = run(rec)
    quality = [e for e in events if e.kind == EventKind.QUALITY and e.label != DEVICE_REMOVED_LABEL]
    assert [e.label for e in quality] == ["flat_line"]
