"""The fall logic around the model: each impact judged on its own, posture, inactivity, device removed."""

from __future__ import annotations

import numpy as np
import pytest

from models.fall_logic import (
    DEVICE_REMOVED,
    FALL,
    REJECTED,
    FallDecision,
    FallLogicConfig,
    FallTracker,
    classic_rule,
)

FS = 50.0
UP = np.array([0.0, 0.0, 1.0])


def _orient(deg: float) -> np.ndarray:
    a = np.radians(deg)
    return np.array([np.sin(a), 0.0, np.cos(a)])


class Body:
    """A synthetic trunk sensor: orientation segments, breathing, impacts."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        self.acc: list[np.ndarray] = []

    def hold(self, seconds: float, deg: float, breathing_deg: float = 0.6, noise_g: float = 0.01) -> Body:
        n = round(seconds * FS)
        t = np.arange(n) / FS
        angle = deg + breathing_deg * np.sin(2 * np.pi * 0.25 * t)
        self.acc.append(np.stack([_orient(a) for a in angle]) + self.rng.normal(0, noise_g, (n, 3)))
        return self

    def fall(self, to_deg: float, impact_g: float = 5.0, descent_s: float = 0.5, frm: float = 0.0) -> Body:
        n = round(descent_s * FS)
        angles = np.linspace(frm, to_deg, n)
        self.acc.append(np.stack([0.2 * _orient(a) for a in angles]))  # partial free fall
        self.acc.append(np.array([impact_g * _orient(to_deg)] * 2))
        return self

    def walk(self, seconds: float) -> Body:
        n = round(seconds * FS)
        t = np.arange(n) / FS
        self.acc.append(UP + np.stack([0.2 * np.sin(2 * np.pi * t), 0 * t, 0.4 * np.sin(4 * np.pi * t)], axis=1))
        return self

    def signal(self) -> np.ndarray:
        return np.concatenate(self.acc)


def run(acc: np.ndarray, score: float = 0.9, cfg: FallLogicConfig | None = None) -> list[FallDecision]:
    tracker = FallTracker(FS, cfg or FallLogicConfig())
    out: list[FallDecision] = []
    step = round(0.5 * FS)
    for lo in range(0, len(acc), step):
        for w in tracker.push(acc[lo:lo + step]):
            assert w.x.shape == (100, 6)
            tracker.score(w.impact_id, score)
        out += tracker.decisions()
        nw = tracker.not_worn()
        if nw is not None:
            out.append(nw)
    return out


def test_a_fall_with_the_person_lying_still_raises_one_alert_within_ten_seconds():
    acc = Body().walk(6).fall(90).hold(15, 90).signal()
    decisions = run(acc)
    falls = [d for d in decisions if d.kind == FALL]
    assert len(falls) == 1
    assert falls[0].decided_t_s - falls[0].t_s <= 10.0
    assert falls[0].posture_change_deg is not None and falls[0].posture_change_deg > 70


def test_an_impact_that_ends_upright_or_moving_is_rejected_with_its_reason():
    upright = run(Body().walk(6).fall(0, impact_g=4.0).hold(12, 0).signal())
    assert [d.kind for d in upright] == [REJECTED] and upright[0].reason == "posture unchanged after the impact"
    got_up = run(Body().walk(6).fall(90).hold(2, 90).walk(12).signal())
    assert all(d.kind != FALL for d in got_up)
    low_score = run(Body().walk(6).fall(90).hold(15, 90).signal(), score=0.1)
    assert [d.reason for d in low_score] == ["model: not a fall"]


def test_a_real_fall_two_seconds_after_a_false_alert_raises_its_own_alert():
    # a first impact that the logic confirms (half down), then the real fall 2 s later
    acc = Body().walk(6).fall(60, impact_g=3.5).hold(1.5, 60).fall(90, frm=60).hold(15, 90).signal()
    falls = [d for d in run(acc) if d.kind == FALL]
    assert len(falls) == 2
    assert falls[1].t_s - falls[0].t_s == pytest.approx(2.0, abs=0.1)
    assert falls[0].impact_id != falls[1].impact_id


def test_a_dropped_device_lying_dead_still_is_device_removed_not_a_fall():
    acc = Body().walk(6).fall(120, impact_g=8.0, descent_s=0.4).hold(20, 120, breathing_deg=0.0, noise_g=0.002).signal()
    decisions = run(acc)
    assert [d.kind for d in decisions if d.impact_id >= 0] == [DEVICE_REMOVED]
    # the same fall with a breathing person on the floor is a fall
    person = run(Body().walk(6).fall(120, impact_g=8.0, descent_s=0.4).hold(20, 120, breathing_deg=0.4).signal())
    assert [d.kind for d in person if d.impact_id >= 0] == [FALL]


def test_a_device_put_down_without_an_impact_is_reported_once_after_the_stillness_time():
    acc = Body().walk(5).hold(45, 30, breathing_deg=0.0, noise_g=0.002).walk(5).hold(45, 30, 0.0, 0.002).signal()
    removed = [d for d in run(acc) if d.kind == DEVICE_REMOVED]
    assert len(removed) == 2 and all(d.impact_id == -1 for d in removed)
    assert removed[0].decided_t_s - removed[0].t_s == pytest.approx(30.0, abs=1.0)
    # a person sitting still but breathing is never "removed"
    assert not [d for d in run(Body().hold(90, 10, breathing_deg=0.5).signal()) if d.kind == DEVICE_REMOVED]


def test_bad_input_is_refused_with_a_reason():
    with pytest.raises(ValueError, match="10 s"):
        FallLogicConfig(decide_after_s=12.0)
    tracker = FallTracker(FS)
    with pytest.raises(ValueError, match="gyro"):
        tracker.push(np.zeros((5, 3)), np.zeros((4, 3)))
    with pytest.raises(KeyError, match="not pending"):
        tracker.score(99, 0.5)


def test_classic_rule_needs_the_threshold_and_stillness():
    still_after = Body().walk(5).fall(90, impact_g=3.2).hold(6, 90).signal()
    assert len(classic_rule(still_after, FS, 3.0)) == 1
    assert classic_rule(still_after, FS, 3.5) == []
    moving_after = Body().walk(5).fall(0, impact_g=3.2).walk(6).signal()
    assert classic_rule(moving_after, FS, 3.0) == []
