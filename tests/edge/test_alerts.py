"""Alert state machines: confirmation, runs, burden, sustained stress, de-duplication."""

from __future__ import annotations

from edge.alerts import (
    BURDEN_BEATS,
    ArrhythmiaState,
    StressState,
)


def test_three_v_beats_in_a_row_raise_one_run_alert_and_it_resolves() -> None:
    state = ArrhythmiaState()
    out = []
    t = 0
    for label in ["N"] * 5 + ["V", "N", "V", "V"]:
        t += 800_000
        out += state.on_beat(label, t)
    assert out == []  # isolated and paired PVCs are not a run
    t += 500_000
    raised = state.on_beat("V", t)
    assert [(r[0], r[1], r[2]) for r in raised] == [("ventricular_run", "raised", "high")]
    for _ in range(5):
        t += 500_000
        assert all(r[0] != "ventricular_run" or r[1] != "raised" for r in state.on_beat("V", t))
    resolved = []
    for _ in range(60):
        t += 800_000
        resolved += [r for r in state.on_beat("N", t) if r[0] == "ventricular_run"]
    assert [(r[1], r[4]) for r in resolved] == [("resolved", raised[0][4])]


def test_ectopic_burden_raises_a_medium_alert_not_a_single_beat() -> None:
    state = ArrhythmiaState()
    events = []
    for i in range(BURDEN_BEATS):
        events += state.on_beat("S" if i % 3 == 0 else "N", i * 800_000)
    burden = [e for e in events if e[0] == "ectopy_burden"]
    assert [(e[1], e[2]) for e in burden] == [("raised", "medium")]
    single = ArrhythmiaState()
    assert all(not single.on_beat(lab, i) for i, lab in enumerate(["N"] * 40 + ["S"] + ["N"] * 20))


def test_stress_needs_minutes_not_one_window() -> None:
    state = StressState()
    ends = iter(range(15_000_000, 10**12, 15_000_000))  # a window every 15 s
    assert state.on_window(0.99, next(ends)) is None
    changes = [state.on_window(0.9, next(ends)) for _ in range(8)]
    raised = [c for c in changes if c is not None]
    assert len(raised) == 1 and raised[0][0] == "raised"
    resolved = [c for c in (state.on_window(0.0, next(ends)) for _ in range(8)) if c is not None]
    assert len(resolved) == 1 and resolved[0][0] == "resolved" and resolved[0][2] == raised[0][2]
