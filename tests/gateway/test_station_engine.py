"""The station engine as plain logic: which alert events readings, events and silence produce."""

from __future__ import annotations

import dataclasses

from gateway.alerts import Alert
from gateway.config import StationConfig
from gateway.station.engine import PatientSettings, Plan, StationEngine
from gateway.store.records import WriteBatch
from gateway.vitals.limits import DEFAULTS, Condition
from gateway.vitals.news2_score import NEWS2_STREAM, News2Settings
from iomt.wire.events import AlertState, Event, EventKind, Priority
from iomt.wire.frames import Reading
from tests.gateway.helpers import T0_US, ecg_frame, event

NORMAL = {"hr": 72.0, "spo2": 97.0, "bp_sys": 125.0, "bp_dia": 80.0, "temp_c": 36.8, "resp_rate": 15.0}
#: NEWS2 7 (high): RR 23 -> 2, SpO2 93 -> 2, SBP 105 -> 1, HR 115 -> 2; inside the default limits
#: except none (RR 23 < 25, SpO2 93 > 90, SBP 105 > 90, HR 115 < 120)
HIGH = {"hr": 115.0, "spo2": 93.0, "bp_sys": 105.0, "bp_dia": 70.0, "temp_c": 37.5, "resp_rate": 23.0}
#: NEWS2 5 (medium): RR 22 -> 2, SpO2 95 -> 1, HR 95 -> 1, temp 38.5 -> 1
MEDIUM = {"hr": 95.0, "spo2": 95.0, "bp_sys": 125.0, "bp_dia": 80.0, "temp_c": 38.5, "resp_rate": 22.0}


def settings(_device: str) -> PatientSettings:
    return PatientSettings(News2Settings(), DEFAULTS[Condition.GENERAL])


def engine(**config: object) -> StationEngine:
    return StationEngine(StationConfig(**config), settings)  # type: ignore[arg-type]


def vitals(seq: int, values: dict[str, float], device: str = "p1") -> Reading:
    return Reading(device, "vitals", seq, T0_US + seq * 1_000_000, values)


def feed(eng: StationEngine, readings: list[Reading], node: str = "edge-1", events: list[Event] = ()) -> Plan:  # type: ignore[assignment]
    plan = eng.plan_batch(WriteBatch(readings=readings, events=events), node, T0_US)
    eng.commit(plan)
    return plan


def alert_events(plan: Plan, model: str | None = None) -> list[tuple[str, str, str]]:
    return [(e.label, str(e.state), str(e.priority)) for e in plan.events
            if e.kind == EventKind.ALERT and model in (None, e.model)]


def test_every_vitals_reading_gets_a_news2_reading_with_its_sequence_number():
    eng = engine()
    plan = feed(eng, [vitals(0, NORMAL), vitals(1, NORMAL)])
    assert [(r.stream, r.seq, r.t_us) for r in plan.readings] == [(NEWS2_STREAM, 0, T0_US),
                                                                  (NEWS2_STREAM, 1, T0_US + 1_000_000)]
    assert plan.readings[0].values["total"] == 0 and plan.events == []
    assert plan.nodes == {"p1": "edge-1"} and eng.node_of("p1") == "edge-1"


def test_a_deterioration_raises_news2_by_band_then_escalates_and_resolves_without_flapping():
    eng = engine()
    feed(eng, [vitals(s, NORMAL) for s in range(3)])
    # two medium readings and a normal one: no alert (3 in a row needed)
    assert alert_events(feed(eng, [vitals(3, MEDIUM), vitals(4, MEDIUM), vitals(5, NORMAL)])) == []
    raised = feed(eng, [vitals(6, MEDIUM), vitals(7, MEDIUM), vitals(8, MEDIUM)])
    assert alert_events(raised) == [("news2_medium", "raised", "medium")]
    [medium] = raised.events
    assert medium.model == "news2" and medium.value == 5 and medium.node == ""
    assert medium.detail["category"] == "clinical"
    assert medium.detail["total"] == 5 and medium.window_start_us == T0_US + 6_000_000
    up = feed(eng, [vitals(9 + i, HIGH) for i in range(3)])
    assert alert_events(up) == [("news2_medium", "resolved", "medium"), ("news2_high", "raised", "high")]
    assert up.events[0].detail["alert_id"] == medium.event_id
    # a noisy normal reading among high ones changes nothing; five normal ones resolve it
    assert alert_events(feed(eng, [vitals(12, NORMAL), vitals(13, HIGH)] + [vitals(14 + i, NORMAL)
                                                                           for i in range(4)])) == []
    assert alert_events(feed(eng, [vitals(18, NORMAL)])) == [("news2_high", "resolved", "high")]


def test_a_limit_breach_raises_with_its_priority_and_clears_only_back_past_the_deadband():
    eng = engine()
    plan = feed(eng, [vitals(s, {**NORMAL, "spo2": 88.0}) for s in range(3)])
    assert alert_events(plan) == [("news2_low_medium", "raised", "low"), ("spo2_low", "raised", "medium")]
    plan.events.pop(0)
    assert plan.events[0].detail["limits"]["low"] == 90 and plan.events[0].detail["unit"] == "%"
    assert plan.events[0].model == "alarm_limits" and plan.events[0].value == 88.0
    deeper = feed(eng, [vitals(3 + s, {**NORMAL, "spo2": 83.0}) for s in range(3)])
    assert alert_events(deeper, "alarm_limits") == [("spo2_low", "resolved", "medium"),
                                                    ("spo2_extreme_low", "raised", "high")]
    # 90.5 is inside the limit (90) but within its 1 % deadband: the alarm holds (at level 1)
    held = feed(eng, [vitals(6 + s, {**NORMAL, "spo2": 90.5}) for s in range(10)])
    assert alert_events(held, "alarm_limits") == [("spo2_extreme_low", "resolved", "high"),
                                                  ("spo2_low", "raised", "medium")]
    cleared = feed(eng, [vitals(16 + s, NORMAL) for s in range(5)])
    assert alert_events(cleared, "alarm_limits") == [("spo2_low", "resolved", "medium")]


def test_a_redelivered_batch_moves_nothing_and_an_uncommitted_plan_is_planned_again_identically():
    eng = engine(limit_enter_readings=1)
    batch = WriteBatch(readings=[vitals(0, {**NORMAL, "hr": 150.0})])
    first = eng.plan_batch(batch, "edge-1", T0_US)
    again = eng.plan_batch(batch, "edge-1", T0_US)  # the first plan's write failed: nothing was adopted
    assert [e.event_id for e in first.events] == [e.event_id for e in again.events] and len(first.events) == 1
    eng.commit(again)
    redelivered = eng.plan_batch(batch, "edge-1", T0_US)
    assert redelivered.events == [] and len(redelivered.readings) == 1  # scored again (the store refuses it)


def test_heart_rate_limits_follow_the_ecg_while_it_comes_and_the_pulse_otherwise():
    eng = engine(limit_enter_readings=2)
    hr_events = [event("p1", T0_US + s * 1_000_000, value=188.0) for s in range(2)]
    plan = feed(eng, [vitals(s, NORMAL) for s in range(2)], events=hr_events)
    assert alert_events(plan) == [("hr_extreme_high", "raised", "high")]
    assert plan.events[0].detail["measured_by"] == "ecg"
    # the monitor's pulse of 72 does not count against it while the ECG heart rate is fresh
    assert alert_events(feed(eng, [vitals(2 + s, NORMAL) for s in range(6)])) == []
    # 20 s without an ECG heart rate: the pulse counts, and clears it
    later = feed(eng, [vitals(20 + s, NORMAL) for s in range(5)])
    assert alert_events(later) == [("hr_extreme_high", "resolved", "high")]


def test_lead_off_is_a_technical_alarm_until_the_signal_is_back():
    eng = engine()
    off = Event(device="p1", model="signal_quality", model_version="1", kind=EventKind.QUALITY, label="lead_off",
                score=1.0, window_start_us=T0_US, window_end_us=T0_US, t_us=T0_US, site="ward-2", node="edge-1",
                priority=Priority.MEDIUM, detail={"stream": "ecg"})
    plan = feed(eng, [], events=[off])
    assert alert_events(plan) == [("lead_off", "raised", "medium")]
    assert plan.events[0].detail["category"] == "technical" and plan.events[0].site == "ward-2"
    assert plan.events[0].detail["stream"] == "ecg"
    ok = dataclasses.replace(off, label="signal_ok", t_us=T0_US + 5, event_id="ok-1")
    assert alert_events(feed(eng, [], events=[ok])) == [("lead_off", "resolved", "medium")]


def test_a_model_that_cannot_analyse_its_input_is_a_technical_alarm_until_it_can_again():
    eng = engine()
    no_ppg = Event(device="p1", model="emotion", model_version="1", kind=EventKind.QUALITY, label="no_ppg", score=1.0,
                   window_start_us=T0_US, window_end_us=T0_US, t_us=T0_US, site="ward-2", node="edge-1",
                   priority=Priority.MEDIUM, detail={"message": "emotion not analysed: no PPG", "channel": "ppg",
                                                     "problem": "missing"})
    plan = feed(eng, [], events=[no_ppg])
    assert alert_events(plan) == [("emotion_not_analysed", "raised", "low")]
    raised = plan.events[0]
    assert raised.detail["category"] == "technical" and raised.detail["message"] == "emotion not analysed: no PPG"
    flat = dataclasses.replace(no_ppg, label="eda_flat", t_us=T0_US + 5, event_id="q-2")
    assert alert_events(feed(eng, [], events=[flat])) == []  # another reason, the same alarm
    back = dataclasses.replace(no_ppg, label="analysed", score=0.0, t_us=T0_US + 9, event_id="q-3",
                               detail={"message": "emotion analysed again"})
    assert alert_events(feed(eng, [], events=[back])) == [("emotion_not_analysed", "resolved", "low")]
    restored = engine()
    assert restored.restore([Alert(raised, AlertState.RAISED)]) == 1  # its key names it after a restart
    lead_off = dataclasses.replace(no_ppg, model="signal_quality", label="lead_off", detail={"stream": "ecg"})
    assert alert_events(feed(engine(), [], events=[lead_off])) == [("lead_off", "raised", "medium")]  # a stream's


def test_silence_is_no_data_unless_the_edge_is_offline_which_is_its_own_alarm():
    eng = engine(no_data_after_s=15.0)
    for k in range(5):
        plan = eng.plan_batch(WriteBatch(frames=[ecg_frame("p1", k)]), "edge-1", T0_US + k * 1_000_000)
        eng.commit(plan)
    assert eng.plan_tick(T0_US + 10_000_000, {"edge-1": "online"}).events == []
    tick = eng.plan_tick(T0_US + 20_000_000, {"edge-1": "online"})
    eng.commit(tick)
    assert alert_events(tick) == [("no_data", "raised", "medium")] and tick.events[0].detail["streams"] == ["ecg"]
    offline = eng.plan_tick(T0_US + 21_000_000, {"edge-1": "offline"})
    eng.commit(offline)
    assert alert_events(offline) == [("edge_offline", "raised", "medium")]  # no_data stays as it was
    assert eng.plan_tick(T0_US + 22_000_000, {"edge-1": "offline"}).events == []
    eng.commit(eng.plan_batch(WriteBatch(frames=[ecg_frame("p1", 9)]), "edge-1", T0_US + 23_000_000))
    back = eng.plan_tick(T0_US + 24_000_000, {"edge-1": "online"})
    assert alert_events(back) == [("edge_offline", "resolved", "medium"), ("no_data", "resolved", "medium")]


def test_battery_low_then_critical_from_the_status_stream():
    eng = engine()
    status = [Reading("p1", "status", s, T0_US + s, {"battery_pct": pct}) for s, pct in enumerate((30, 18, 9))]
    plan = feed(eng, status)
    assert alert_events(plan) == [("battery_low", "raised", "low"), ("battery_low", "resolved", "low"),
                                  ("battery_critical", "raised", "medium")]


def test_open_alarms_of_the_gateway_are_carried_over_a_restart():
    first = engine()
    raised = [e for e in feed(first, [vitals(s, {**NORMAL, "spo2": 88.0}) for s in range(3)]).events
              if e.model == "alarm_limits"]
    second = engine()
    edge_alert = Alert(event("p2", kind="alert", model="fall", label="fall", priority="high"), AlertState.RAISED)
    assert second.restore([Alert(raised[0], AlertState.RAISED), edge_alert]) == 1
    cleared = feed(second, [vitals(10 + s, NORMAL) for s in range(5)])
    assert alert_events(cleared) == [("spo2_low", "resolved", "medium")]  # the NEWS2 alert was not restored
    assert cleared.events[0].detail["alert_id"] == raised[0].event_id
