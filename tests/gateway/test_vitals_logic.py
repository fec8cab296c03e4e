"""Pure logic of the station's vitals: units, NEWS2 from readings, limits, hysteresis, technical alarms."""

from __future__ import annotations

import pytest

from gateway.vitals import technical, units
from gateway.vitals.hysteresis import Debounce, LevelTracker
from gateway.vitals.limits import DEFAULTS, AlarmLimits, Condition, LimitRange, Side, levels, status
from gateway.vitals.news2_score import Carried, News2Settings, score_reading
from iomt.wire.events import Event, EventKind
from models.clinical.news2 import Band, Consciousness, Parameter, SpO2Scale

NORMAL = {"hr": 72.0, "spo2": 97.0, "bp_sys": 125.0, "bp_dia": 80.0, "temp_c": 36.8, "resp_rate": 15.0}


def test_units_map_any_accepted_key_and_drop_implausible_values():
    got = units.canonical({"pulse": 80, "sp_o2": 95, "sbp": 120, "rr": 14, "temperature": 37.2, "color": 3,
                           "bp_dia": 400})
    assert got == {"hr": 80.0, "spo2": 95.0, "bp_sys": 120.0, "resp_rate": 14.0, "temp_c": 37.2}
    assert units.canonical({"spo2": 140}) == {}  # a transmission error is no measurement
    assert units.on_oxygen({"o2": 1}) is True and units.on_oxygen({"o2": 0}) is False
    assert units.on_oxygen({"fio2": 0.21}) is False and units.on_oxygen({"fio2": 0.28}) is True
    assert units.on_oxygen({"fio2": 40}) is True and units.on_oxygen({"fio2": 21}) is False
    assert units.on_oxygen({}) is None
    assert units.acvpu_code({"acvpu": 2}) == 2 and units.acvpu_code({"acvpu": 7}) is None
    assert units.acvpu_code({"acvpu": 1.5}) is None and units.acvpu_code({}) is None
    assert [v.unit for v in units.VITALS.values()] == ["bpm", "%", "mmHg", "mmHg", "/min", "°C"]


def test_news2_of_a_normal_reading_assumes_alert_and_air():
    result = score_reading(1, NORMAL, News2Settings(), Carried())
    assert (result.total, result.band, result.complete) == (0, Band.LOW, True)
    assert result.consciousness == Consciousness.ALERT and result.consciousness_assumed
    assert not result.on_oxygen and not result.oxygen_from_reading
    values = result.as_values()
    assert values["total"] == 0 and values["band"] == 0 and values["acvpu_assumed"] == 1 and values["complete"] == 1


def test_news2_uses_the_reading_s_oxygen_and_consciousness_and_the_patient_s_scale():
    sick = {**NORMAL, "resp_rate": 23, "spo2": 93, "o2": 1, "acvpu": 2}
    result = score_reading(1, sick, News2Settings(SpO2Scale.SCALE_1, supplemental_oxygen=False), Carried())
    # RR 23 -> 2, SpO2 93 (scale 1) -> 2, oxygen -> 2, V -> 3
    assert result.parameters[Parameter.RESPIRATION] == 2 and result.parameters[Parameter.SPO2] == 2
    assert result.parameters[Parameter.AIR_OR_OXYGEN] == 2 and result.parameters[Parameter.CONSCIOUSNESS] == 3
    assert (result.total, result.band) == (9, Band.HIGH)
    assert result.oxygen_from_reading and not result.consciousness_assumed
    # the record's oxygen counts when the reading does not say; scale 2 scores 93 % on oxygen 1
    on_record = score_reading(1, {**NORMAL, "spo2": 93}, News2Settings(SpO2Scale.SCALE_2, True), Carried())
    assert on_record.on_oxygen and not on_record.oxygen_from_reading
    assert on_record.parameters[Parameter.SPO2] == 1 and on_record.total == 3
    # a single red 3 with a low aggregate is the low-medium band
    red = score_reading(1, {**NORMAL, "resp_rate": 7}, News2Settings(), Carried())
    assert (red.total, red.band) == (3, Band.LOW_MEDIUM) and red.as_values()["red"] == 1


def test_news2_carries_recent_values_forward_and_is_incomplete_without_them():
    carried = Carried()
    assert score_reading(0, NORMAL, News2Settings(), carried).complete
    no_bp = {k: v for k, v in NORMAL.items() if k not in ("bp_sys", "bp_dia")}
    later = score_reading(60_000_000, no_bp, News2Settings(), carried)
    assert later.complete and later.carried == (Parameter.SYSTOLIC_BP,)
    stale = score_reading(2 * 3600 * 1_000_000, no_bp, News2Settings(), carried)
    assert not stale.complete and stale.total is None and stale.missing == (Parameter.SYSTOLIC_BP,)
    assert Parameter.SYSTOLIC_BP not in stale.parameters and stale.parameters[Parameter.RESPIRATION] == 0
    assert "total" not in stale.as_values() and stale.as_values()["complete"] == 0
    # a sent level of consciousness stands for an hour
    score_reading(0, {**NORMAL, "acvpu": 1}, News2Settings(), carried)
    assert score_reading(1_000_000, NORMAL, News2Settings(), carried).consciousness == Consciousness.CONFUSION


def test_limits_validate_order_and_plausibility_with_the_field_named():
    with pytest.raises(ValueError, match=r"low .* must be below high"):
        LimitRange(low=120, high=100)
    with pytest.raises(ValueError, match="extreme_low"):
        LimitRange(low=50, extreme_low=60)
    with pytest.raises(ValueError, match=r"spo2\.low"):
        DEFAULTS[Condition.GENERAL].replace({"spo2": LimitRange(low=120)})
    assert DEFAULTS[Condition.COPD].spo2.low is not None and DEFAULTS[Condition.GENERAL].spo2.low is not None
    assert DEFAULTS[Condition.COPD].spo2.low < DEFAULTS[Condition.GENERAL].spo2.low
    assert isinstance(DEFAULTS[Condition.HEART_FAILURE], AlarmLimits)


def test_limit_levels_enter_past_the_limit_and_hold_within_the_deadband():
    hr = LimitRange(50, 120, 40, 140)
    assert levels("hr", 120, hr) == {Side.LOW: (0, 0), Side.HIGH: (0, 1)}  # on the limit: holds, does not enter
    assert levels("hr", 121, hr)[Side.HIGH] == (1, 1)
    assert levels("hr", 116, hr)[Side.HIGH] == (0, 0)  # 3 bpm deadband
    assert levels("hr", 141, hr)[Side.HIGH] == (2, 2) and levels("hr", 139, hr)[Side.HIGH] == (1, 2)
    assert levels("hr", 39, hr)[Side.LOW] == (2, 2)
    assert (status("hr", 188, hr), status("hr", 70, hr), status("hr", 45, hr)) == ("extreme_high", "normal", "low")
    assert levels("spo2", 99, LimitRange(90, None))[Side.HIGH] == (0, 0)  # an absent limit never alarms


def test_hysteresis_raises_after_agreement_and_ignores_a_noisy_reading():
    tracker = LevelTracker(Debounce(3, 5))
    assert [tracker.update(e) for e in (1, 0, 1, 1)] == [0, 0, 0, 0]
    assert tracker.update(1) == 1  # three in a row
    assert [tracker.update(0) for _ in range(4)] == [1, 1, 1, 1]
    assert tracker.update(0) == 0  # five back inside
    high = LevelTracker(Debounce(2, 2))
    assert [high.update(e) for e in (3, 3, 2, 3, 1, 1)] == [0, 3, 3, 3, 3, 1]  # down to the most recent max
    held = LevelTracker(Debounce(1, 2))
    assert held.update(1, 1) == 1
    assert [held.update(0, 1) for _ in range(5)] == [1] * 5  # inside the limit but within the deadband: holds
    with pytest.raises(ValueError):
        Debounce(0, 1)


def test_technical_problems_from_events_and_battery_levels():
    def quality(label: str, stream: str | None = "ecg", kind: EventKind = EventKind.QUALITY) -> Event:
        return Event(device="p1", model="signal_quality", model_version="1", kind=kind, label=label, score=1.0,
                     window_start_us=0, window_end_us=0, t_us=0, detail={"stream": stream} if stream else {})

    assert technical.stream_problem(quality("lead_off")) == ("ecg", technical.Technical.LEAD_OFF)
    assert technical.stream_problem(quality("signal_ok")) == ("ecg", None)
    assert technical.stream_problem(quality("device_removed", None, EventKind.INFERENCE)) == (
        "acc", technical.Technical.DEVICE_REMOVED)
    assert technical.stream_problem(quality("noisy")) is None
    assert technical.stream_problem(quality("signal_ok", kind=EventKind.INFERENCE)) is None
    assert technical.battery_levels(50) == (0, 0) and technical.battery_levels(19) == (1, 1)
    assert technical.battery_levels(22) == (0, 1) and technical.battery_levels(9) == (2, 2)


def test_beats_are_placed_at_their_r_peaks_from_the_edge_s_ecg_events():
    from gateway.station import beats
    from models.preprocessing import beats as model_beats

    assert beats.BEFORE_S == model_beats.BEFORE / model_beats.ECG_RATE_HZ  # the gateway's copy of the window
    start = 1_000_000_000
    ecg = Event(device="p1", model="ecg", model_version="1", kind=EventKind.INFERENCE, label="V", score=0.9,
                window_start_us=start, window_end_us=start + 2_000_000, t_us=start + 2_000_000,
                detail={"beats": [[1000, "N", 0.99], [1200, "V", 0.9], ["bad"], [1400, "N", 0.98]]})
    other = Event(device="p1", model="heart_rate", model_version="1", kind=EventKind.INFERENCE, label="x",
                  score=1.0, window_start_us=0, window_end_us=0, t_us=0, detail={"beats": [[1, "N", 1.0]]})
    got = beats.beats_of([ecg, other], start, start + 1_500_000)
    assert [(b.t_us - start, b.label) for b in got] == [(240_000, "N"), (1_040_000, "V")]  # the third is after end
