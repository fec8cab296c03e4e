"""The fall pipeline when the signal breaks off after an impact (a sequence gap never drops a pending
impact), and with a declared placement (events carry it; a placement the model was not validated for
is not analysed, and says so once).

Pure logic, as tests/edge/test_fall_pipeline.py: hand-built frames, a stand-in model. The processor
calls ``on_gap`` before the first frame after a gap; :func:`run` does the same."""

from __future__ import annotations

import numpy as np
import pytest

from edge.events import EventFactory
from edge.fall_pipeline import ANALYSED_LABEL, PLACEMENT_UNSUPPORTED_LABEL, FallPipeline
from edge.quality_state import QualityTracker
from gateway.vitals.technical import model_problem
from iomt.wire.descriptor import AccUnit, Axes, DeviceDescriptor, GyroUnit, MotionSensor, Placement
from iomt.wire.events import Event, EventKind, Priority
from iomt.wire.frames import make_frame
from tests.edge.test_fall_pipeline import FS, SIDE, T0, UP, Recording, StandIn, falls, impact_s


def described(placement: Placement) -> DeviceDescriptor:
    return DeviceDescriptor(MotionSensor(placement, AccUnit.G, GyroUnit.DEG_S, Axes.SENSOR))


def run(rec: Recording, p_fall: float = 0.9, *, lost: tuple[float, float] | None = None,
        placements: dict[int, Placement] | None = None, score_late: bool = False,
        pipe: FallPipeline | None = None) -> tuple[list[Event], FallPipeline]:
    """Feed ``rec``; frames starting in ``lost`` (s) never arrive (a sequence gap); ``placements``
    declares a placement before the frame of that index; ``score_late``: the scores of a cycle come
    back only after the next frame was handled (the gap can fall between a window and its score)."""
    pipe = pipe or FallPipeline(EventFactory("s", "n"), QualityTracker("s", "n"), model_version=lambda: "1.1.0")
    model = StandIn(p_fall)
    events: list[Event] = []
    gap = {"acc": False, "gyro": False}
    waiting: list = []
    for k, (stream, values, t0) in enumerate(rec.frames()):
        if placements and k in placements:
            pipe.on_descriptor("p1", described(placements[k]))
        if lost is not None and lost[0] <= (t0 - T0) / 1e6 < lost[1]:
            gap = {"acc": True, "gyro": True}
            continue
        scale = 1 / 4096 if stream == "acc" else 1 / 16
        frame = make_frame("p1", stream, k // 2, t0, FS, np.round(values / scale).astype(np.int16), scale)
        if gap[stream]:  # per stream, as the processor's sequence tracker sees it
            pipe.on_gap("p1", stream)
            gap[stream] = False
        events += pipe.on_frame(frame, 0)
        if waiting:
            events += pipe.on_outputs(waiting, model.predict(np.stack([w.x for w in waiting])), model)  # type: ignore[arg-type]
            waiting = []
        windows, cut = pipe.ready()
        events += cut
        if windows and score_late:
            waiting = windows
        elif windows:
            events += pipe.on_outputs(windows, model.predict(np.stack([w.x for w in windows])), model)  # type: ignore[arg-type]
    events += pipe.ready()[1]
    return events, pipe


class Clock:
    """The pipeline's clock, moved by hand (ns)."""

    def __init__(self) -> None:
        self.ns = 0

    def __call__(self) -> int:
        return self.ns


def clocked() -> tuple[FallPipeline, Clock]:
    clock = Clock()
    pipe = FallPipeline(EventFactory("s", "n"), QualityTracker("s", "n"), model_version=lambda: "1.1.0", clock=clock)
    return pipe, clock


def possible(events: list[Event]) -> list[Event]:
    return [e for e in events if e.kind == EventKind.ALERT and e.label == "possible_fall"]


def fall_then_lost(after_s: float, p_fall: float = 0.9, **kw: object) -> tuple[list[Event], float]:
    rec = Recording().hold(UP, 8)
    t_impact = rec.t + 0.5 + 3 / FS
    rec.fall(UP, SIDE).hold(SIDE, 20)
    # frames are 0.5 s: the gap starts with the first frame starting at or after impact + after_s
    lost_from = np.ceil((t_impact + after_s) * 2) / 2
    events, _ = run(rec, p_fall, lost=(lost_from, lost_from + 3.0), **kw)  # type: ignore[arg-type]
    return events, t_impact


def test_a_gap_right_after_an_impact_the_model_called_a_fall_raises_a_possible_fall_not_silence() -> None:
    events, t_impact = fall_then_lost(1.0)
    [alert] = possible(events)
    assert alert.priority == Priority.HIGH and alert.detail["model_score"] == pytest.approx(0.9, abs=0.01)
    assert abs(impact_s(alert) - t_impact) < 0.1
    assert alert.detail["reason"].startswith("possible fall: signal lost")
    assert alert.detail["placement"] == "unknown" and not falls(events)


def test_a_gap_before_the_model_saw_the_impact_raises_a_medium_possible_fall() -> None:
    events, _ = fall_then_lost(0.1)
    [alert] = possible(events)
    assert alert.priority == Priority.MEDIUM and alert.detail["model_score"] is None


def test_a_gap_after_enough_observation_is_judged_on_it() -> None:
    events, t_impact = fall_then_lost(5.0)
    [alert] = falls(events)
    assert "signal lost" in alert.detail["confirmed_by"] and abs(impact_s(alert) - t_impact) < 0.1
    assert not possible(events)


def test_a_gap_after_an_impact_the_model_cleared_raises_nothing() -> None:
    events, _ = fall_then_lost(1.0, p_fall=0.1)
    assert not possible(events) and not falls(events)


def test_a_gap_while_the_impact_is_being_scored_decides_it_when_the_score_is_back() -> None:
    rec = Recording().hold(UP, 8)
    t_impact = rec.t + 0.5 + 3 / FS
    rec.fall(UP, SIDE).hold(SIDE, 20)
    # the window is complete with the frame ending 0.6 s after the peak; its score comes back after the
    # next frame, which is the first one after the gap
    lost_from = np.ceil((t_impact + 0.6) * 2) / 2
    events, pipe = run(rec, lost=(lost_from, lost_from + 3.0), score_late=True)
    [alert] = possible(events)
    assert alert.priority == Priority.HIGH and not pipe._devices["p1"].orphans


def test_a_gap_after_a_stumble_is_rejected_once_the_signal_is_back_upright() -> None:
    """A lossy link drops frames right after ordinary impacts (steps, a stumble): alerting at the gap
    raised ~13 possible falls an hour on real daily activity with 1 % of frames lost. Back upright: none."""
    rec = Recording().hold(UP, 8)
    t_impact = rec.t + 0.5 + 3 / FS
    rec.fall(UP, UP).hold(UP, 20)  # an impact, posture unchanged
    lost_from = np.ceil((t_impact + 0.1) * 2) / 2
    events, pipe = run(rec, lost=(lost_from, lost_from + 1.0))
    assert not possible(events) and not falls(events)
    assert pipe.decisions.get("rejected", 0) >= 1 and not pipe._devices["p1"].lost


def test_a_stream_that_stops_for_good_right_after_an_impact_raises_a_possible_fall() -> None:
    rec = Recording().hold(UP, 8)
    rec.fall(UP, SIDE).hold(SIDE, 1.0)  # the device goes silent after the impact: no frame, so no gap, follows
    pipe, clock = clocked()
    events, _ = run(rec, pipe=pipe)
    assert not possible(events)
    clock.ns += 9 * 10**9
    [alert] = possible(pipe.ready()[1])
    assert "no signal" in alert.detail["reason"]


def test_a_fall_just_after_a_gap_is_a_possible_fall_though_the_model_cannot_see_it() -> None:
    """The model needs 2 s before an impact; a fall that soon after a dropped frame used to be rejected
    ("no model input"). Judged by the rules against the posture from before the gap: a possible fall."""
    rec = Recording().hold(UP, 8)
    gap_from = rec.t
    rec.hold(UP, 1.5)  # the first second of it is lost
    t_impact = rec.t + 0.5 + 3 / FS
    rec.fall(UP, SIDE).hold(SIDE, 12)
    events, _ = run(rec, lost=(gap_from, gap_from + 1.0))
    [alert] = possible(events)
    assert abs(impact_s(alert) - t_impact) < 0.1 and alert.priority == Priority.MEDIUM
    assert "no model input" in alert.detail["reason"] and not falls(events)
    rec = Recording().hold(UP, 8)
    rec.hold(UP, 1.5).fall(UP, UP).hold(UP, 12)  # a stumble there: nothing
    events, _ = run(rec, lost=(gap_from, gap_from + 1.0))
    assert not possible(events) and not falls(events)


def test_without_a_gap_a_fall_is_still_a_fall() -> None:
    events, _ = fall_then_lost(30.0)  # the "gap" lies past the end of the recording
    assert len(falls(events)) == 1 and not possible(events)


# -- placement ------------------------------------------------------------------------------------------

def fall_recording() -> Recording:
    return Recording().hold(UP, 8).fall(UP, SIDE).hold(SIDE, 12)


def test_events_carry_the_declared_placement() -> None:
    events, _ = run(fall_recording(), placements={0: Placement.WAIST})
    [alert] = falls(events)
    assert alert.detail["placement"] == "waist" and "placement_note" not in alert.detail
    inferences = [e for e in events if e.kind == EventKind.INFERENCE and e.model == "fall"]
    assert inferences and all(e.detail["placement"] == "waist" for e in inferences)


def test_a_placement_analysed_with_a_caveat_says_it_on_its_alert() -> None:
    events, _ = run(fall_recording(), placements={0: Placement.WRIST})
    [alert] = falls(events)
    assert alert.detail["placement"] == "wrist" and "sensitivity" in alert.detail["placement_note"]


def test_an_unsupported_placement_is_not_analysed_and_says_so_once() -> None:
    events, _ = run(fall_recording(), placements={0: Placement.ANKLE})
    assert not falls(events) and not possible(events)
    [refused] = [e for e in events if e.label == PLACEMENT_UNSUPPORTED_LABEL]
    assert refused.kind == EventKind.QUALITY and refused.model == "fall" and refused.model_version == "1.1.0"
    assert refused.detail["reason"].startswith("fall not analysed: placement ankle not supported by fall 1.1.0")
    assert model_problem(refused) == ("fall", True)  # the station's "fall not analysed" technical alarm


def test_changing_to_a_validated_placement_analyses_again_and_clears_the_alarm() -> None:
    rec = Recording().hold(UP, 10)
    switch = len(rec.frames())
    rec.hold(UP, 8).fall(UP, SIDE).hold(SIDE, 12)
    events, _ = run(rec, placements={0: Placement.ANKLE, switch: Placement.LOWER_BACK})
    labels = [e.label for e in events if e.model == "fall" and e.kind == EventKind.QUALITY]
    assert labels == [PLACEMENT_UNSUPPORTED_LABEL, ANALYSED_LABEL]
    [analysed] = [e for e in events if e.label == ANALYSED_LABEL]
    assert model_problem(analysed) == ("fall", False)
    [alert] = falls(events)
    assert alert.detail["placement"] == "lower_back"


def test_a_placement_declared_unsupported_mid_impact_does_not_drop_the_impact() -> None:
    rec = Recording().hold(UP, 8)
    rec.fall(UP, SIDE)
    switch = len(rec.frames()) + 2  # one second after the impact
    rec.hold(SIDE, 12)
    pipe, clock = clocked()
    events, _ = run(rec, placements={0: Placement.WAIST, switch: Placement.HEAD}, pipe=pipe)
    assert not possible(events)  # it waits for a signal it could judge the impact on...
    clock.ns += 9 * 10**9
    events += pipe.ready()[1]
    assert len(possible(events)) == 1  # ...which never comes
    assert [e.label for e in events if e.label == PLACEMENT_UNSUPPORTED_LABEL]
