"""The edge's vitals pipeline: readings in order to the released vitals risk model (a real LiteRT
interpreter on the released .tflite), windows identical to training's, and risk alerts that escalate
and resolve through a scripted deterioration (simulated patients only)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from edge.alerts import RISK_ENTER, RISK_LEAVE, AlertLabel, RiskState
from edge.config import EdgeConfig
from edge.events import EventFactory, alert_id
from edge.processor import EdgeProcessor
from edge.registry import ModelRegistry
from edge.vitals_pipeline import VitalsPipeline
from edge.vitals_readings import MAX_READINGS, PatientReadings
from firmware_sim.deterioration import Course, CoursePlan
from firmware_sim.persona import make_persona
from firmware_sim.rates import REALISTIC
from firmware_sim.vitals import VitalsGenerator
from iomt.wire import topics
from iomt.wire.events import AlertState, Event, EventKind, Priority
from iomt.wire.frames import Reading, encode_reading
from iomt.wire.uplink import RecordKind
from iomt.wire.vitals import FIELDS
from models.preprocessing import vitals as prep
from models.runtime import RELEASED_DIR

QUIET = replace(REALISTIC, deteriorations_per_patient_hour=0.0)
T0 = 1_764_000_000_000_000
ONSET_S = 900.0


def readings(kind: str | None, seconds: float, seed: int = 0) -> list[tuple[float, dict[str, float]]]:
    """(time s, values) of a simulated vitals monitor at 1 Hz; ``kind``: a compressed course (10 min onset
    to worst) forced at :data:`ONSET_S`, or none (a stable patient)."""
    forced = [Course(kind, ONSET_S, 600.0, forced=True)] if kind else []
    plan = CoursePlan(QUIET, np.random.default_rng(seed), forced=forced)
    gen = VitalsGenerator(make_persona(5, seed, condition="normal"), np.random.default_rng(100 + seed), plan)
    t = np.arange(0.0, seconds)
    block = gen.render(t)
    return [(float(ts), gen.reading_values(row, float(ts))) for ts, row in zip(t, block.measured, strict=True)]


def message(device: str, seq: int, t_s: float, values: dict[str, float]) -> tuple[str, bytes, int]:
    payload = encode_reading(Reading(device, "vitals", seq, T0 + round(t_s * 1e6), values))
    return topics.data("default", device, "vitals"), payload, 0


@pytest.fixture(scope="module")
def registry() -> ModelRegistry:
    reg = ModelRegistry(RELEASED_DIR, ("vitals",))
    assert [c.new_version for c in reg.poll()] == ["1.0.0"]
    return reg


def run(registry: ModelRegistry, stream: list[tuple[float, dict[str, float]]], device: str = "p1",
        **config: object) -> tuple[EdgeProcessor, list[Event], list[np.ndarray]]:
    processor = EdgeProcessor(EdgeConfig(models=("vitals",), **config), registry)  # type: ignore[arg-type]
    events: list[Event] = []
    inputs: list[np.ndarray] = []
    for k in range(0, len(stream), 10):  # a cycle per 10 readings
        batch = [message(device, seq, t, v) for seq, (t, v) in enumerate(stream[k : k + 10], start=k)]
        result = processor.handle_batch(batch)
        events += result.events
        inputs += [w.x for inferred in result.inferred for w in inferred.windows]
    return processor, events, inputs


def alerts(events: list[Event]) -> list[tuple[str, AlertState, Priority, float]]:
    return [(e.label, e.state, e.priority, (e.t_us - T0) / 1e6) for e in events if e.kind is EventKind.ALERT]


def test_windows_are_trainings_windows_at_trainings_ends(registry: ModelRegistry) -> None:
    stream = readings("sepsis", 1800.0)
    processor, events, inputs = run(registry, stream)
    t = np.array([s for s, _ in stream])
    values = np.array([[v.get(f, np.nan) for f in FIELDS] for _, v in stream])
    expected, ends = prep.windows(t, values, np.arange(prep.HOP_S, t[-1] + 1e-9, prep.HOP_S))  # as cloud.labels
    assert len(inputs) == len(ends) == 29
    np.testing.assert_array_equal(np.stack(inputs), expected)
    inference = [e for e in events if e.kind is EventKind.INFERENCE]
    assert [(e.t_us - T0) / 1e6 for e in inference] == ends.tolist()
    assert all(e.model == "vitals" and e.model_version == "1.0.0" for e in inference)
    first = inference[0]
    assert first.window_end_us - first.window_start_us == round(prep.WINDOW_S * 1e6)
    assert first.detail["readings"] == 61 and inference[-1].detail["readings"] == 300
    assert sum(first.detail["probabilities"].values()) == pytest.approx(1.0, abs=0.01)
    assert first.label == max(first.detail["probabilities"], key=first.detail["probabilities"].get)
    # every reading is forwarded whatever the pipeline does with it
    assert processor.counters.readings == len(stream)


@pytest.mark.parametrize("kind", ["sepsis", "respiratory", "haemorrhage"])
def test_a_scripted_deterioration_raises_a_risk_alert_up_to_high_and_resolves_on_recovery(
    registry: ModelRegistry, kind: str
) -> None:
    course = Course(kind, ONSET_S, 600.0, forced=True)
    _, events, _ = run(registry, readings(kind, course.end_s + 900.0))
    found = alerts(events)
    raised = [(label, at) for label, state, _p, at in found if state is AlertState.RAISED]
    # the first alert is medium or, when two windows in a row are already high, high; high follows
    assert raised[0][0] in (AlertLabel.VITALS_RISK_MEDIUM, AlertLabel.VITALS_RISK_HIGH), found
    high = [at for label, at in raised if label == AlertLabel.VITALS_RISK_HIGH]
    # raised after the onset, by the time the course reaches its worst (+ the debounce), high before it eases
    assert ONSET_S < raised[0][1] <= ONSET_S + course.duration_s + RISK_ENTER * prep.HOP_S
    assert high and high[0] <= course.peak_end_s
    assert {p for label, _s, p, _t in found if label == AlertLabel.VITALS_RISK_HIGH} == {Priority.HIGH}
    # every alert raised is resolved by the end (recovered), each under the id it was raised with
    alert_events = [e for e in events if e.kind is EventKind.ALERT]
    raised_ids = {e.event_id for e in alert_events if e.state is AlertState.RAISED}
    resolved_ids = {e.detail["alert_id"] for e in alert_events if e.state is AlertState.RESOLVED}
    assert raised_ids == resolved_ids and len(raised_ids) == len(raised)
    for e in alert_events:
        if e.state is AlertState.RAISED:
            assert e.event_id == alert_id("default", "p1", "vitals", e.label, e.window_end_us)
    assert found[-1][1] is AlertState.RESOLVED


def test_a_stable_patient_is_scored_every_minute_and_raises_nothing(registry: ModelRegistry) -> None:
    _, events, inputs = run(registry, readings(None, 1800.0, seed=3))
    assert len(inputs) == 29 and alerts(events) == []
    assert {e.label for e in events} <= {"none", "low"}


def test_alerts_can_start_higher_or_be_off(registry: ModelRegistry) -> None:
    stream = readings("sepsis", 2400.0)
    _, events, _ = run(registry, stream, vitals_alert_from="high")
    assert {label for label, *_ in alerts(events)} == {AlertLabel.VITALS_RISK_HIGH}
    _, events, inputs = run(registry, stream, vitals_alert_from="off")
    assert alerts(events) == [] and len(inputs) == 39
    assert "high" in {e.label for e in events}  # still reported


def test_bad_readings_late_ones_and_missing_vitals_score_nothing_and_lose_nothing(registry: ModelRegistry) -> None:
    stream = readings(None, 200.0)
    processor = EdgeProcessor(EdgeConfig(models=("vitals",)), registry)
    pipeline = processor.pipelines[0]
    assert isinstance(pipeline, VitalsPipeline)
    records = []
    for seq, (t, v) in enumerate(stream):
        if seq == 30:
            v = {**v, "spo2": 150.0}  # cannot be a saturation
        result = processor.handle_batch([message("p1", seq, t, v)])
        records += result.records
        if seq == 40:  # the reading before again: late, forwarded (the store de-duplicates) but not buffered
            records += processor.handle_batch([message("p1", 39, *stream[39])]).records
    assert pipeline.rejected == 1 and len([r for r in records if r.kind is RecordKind.READING]) == 201
    assert pipeline.windows == 3  # at 60, 120 and 180 s
    # a monitor without a cuff: its windows cannot be scored, and the node says so once; then a cuff
    stream = readings(None, 400.0)
    no_cuff = [(t, {k: x for k, x in v.items() if not k.startswith("bp_")} if t < 200 else v) for t, v in stream]
    processor, events, inputs = run(registry, no_cuff, device="p2")
    pipeline = processor.pipelines[0]
    assert isinstance(pipeline, VitalsPipeline)
    assert pipeline.unscored == 3 and len(inputs) == 3  # 60, 120, 180 s not scored; 240, 300, 360 s scored
    quality = [e for e in events if e.kind is EventKind.QUALITY]
    assert [(e.model, e.label, e.priority, (e.t_us - T0) / 1e6) for e in quality] == [
        ("vitals", "no_bp_sys", Priority.MEDIUM, 60.0), ("vitals", "analysed", Priority.INFO, 240.0)]
    assert quality[0].detail == {"message": "vitals risk not analysed: no systolic BP, diastolic BP",
                                 "missing": ["bp_sys", "bp_dia"]}
    # a patient scored from the start never hears "analysed"
    _, events, _ = run(registry, stream, device="p3")
    assert [e for e in events if e.kind is EventKind.QUALITY] == []


def test_a_device_clock_that_steps_back_restarts_the_schedule(registry: ModelRegistry) -> None:
    stream = readings(None, 200.0)
    processor = EdgeProcessor(EdgeConfig(models=("vitals",)), registry)
    pipeline = processor.pipelines[0]
    assert isinstance(pipeline, VitalsPipeline)
    for seq, (t, v) in enumerate(stream[:90]):
        processor.handle_batch([message("p1", seq, t, v)])
    assert pipeline.windows == 1
    for seq, (t, v) in enumerate(stream[:90], start=90):  # same times again, new sequence numbers
        processor.handle_batch([message("p1", seq, t, v)])
    assert pipeline.restarts == 1 and pipeline.windows == 2  # the next at 60 s after the restart


def test_risk_state_debounces_escalates_and_de_escalates() -> None:
    state = RiskState(min_level=2)
    assert state.on_window("high", 0.9, 1) == []  # one window raises nothing
    assert state.on_window("low_medium", 0.9, 2) == []  # below the alerting level
    assert [t[:2] for t in state.on_window("medium", 0.8, 3)] == []
    raised = state.on_window("high", 0.8, 4)
    assert [(label, s) for label, s, *_ in raised] == [(AlertLabel.VITALS_RISK_MEDIUM, AlertState.RAISED)]
    assert raised[0][4] == 4
    up = state.on_window("high", 0.9, 5)
    assert [(label, s, by) for label, s, _p, _sc, by in up] == [
        (AlertLabel.VITALS_RISK_MEDIUM, AlertState.RESOLVED, 4), (AlertLabel.VITALS_RISK_HIGH, AlertState.RAISED, 5)]
    lows = [state.on_window("low", 0.9, 6 + k) for k in range(RISK_LEAVE)]
    assert all(low == [] for low in lows[:-1])
    resolved = [(label, s, by) for label, s, _p, _sc, by in lows[-1]]
    assert resolved == [(AlertLabel.VITALS_RISK_HIGH, AlertState.RESOLVED, 5)]
    assert state.level == 0 and state.raised_by_us is None


def test_an_alerting_class_below_one_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="low_medium, medium, high or None"):
        VitalsPipeline(EventFactory("default", "edge-1"), "low")


def test_a_patients_reading_buffer_grows_forgets_by_time_and_keeps_the_newest_when_full() -> None:
    buf = PatientReadings(capacity=4)
    for k in range(MAX_READINGS + 10):
        buf.append(k * 1000, [float(k)] * len(FIELDS))
    assert buf.n == MAX_READINGS and buf.last_us == (MAX_READINGS + 9) * 1000
    assert buf.times[0] == 10_000 and buf.rows[0, 0] == 10.0 and buf.rows[buf.n - 1, 7] == MAX_READINGS + 9
    buf.drop_before(MAX_READINGS * 1000)
    assert buf.n == 10 and buf.rows[: buf.n, 0].tolist() == [float(k) for k in range(MAX_READINGS, MAX_READINGS + 10)]
    buf.clear()
    assert buf.n == 0 and buf.last_us is None


def test_a_cuff_every_15_minutes_and_an_hourly_temperature_are_carried_and_scored_like_continuous_ones(
    registry: ModelRegistry,
) -> None:
    stream = readings(None, 3720.0, seed=2)
    ward = [(t, {k: x for k, x in v.items()
                 if not (k.startswith("bp_") and t % 900) and not (k == "temp_c" and t % 3600)}) for t, v in stream]
    processor, events, inputs = run(registry, ward)
    pipeline = processor.pipelines[0]
    assert isinstance(pipeline, VitalsPipeline) and pipeline.unscored == 0 and len(inputs) == 61
    scored = [e for e in events if e.kind is EventKind.INFERENCE]
    carried = [e.detail.get("carried") for e in scored]
    assert carried[0] is None  # the first window holds the readings at 0 s
    assert carried[4] == ["bp_sys", "bp_dia", "temp_c"]  # 300 s: the 0 s readings are left behind
    assert carried[15] == ["temp_c"]  # 960 s: the 900 s cuff reading is inside
    _, events, _ = run(registry, stream)  # the same patient measured every second
    continuous = [e.label for e in events if e.kind is EventKind.INFERENCE]
    agree = np.mean([a == b for a, b in zip([e.label for e in scored], continuous, strict=True)])
    assert agree >= 0.9 and {e.label for e in scored} <= {"none", "low"}


def test_a_cuff_reading_stands_for_an_hour_then_the_patient_is_not_analysed(registry: ModelRegistry) -> None:
    stream = [(t, v if t == 0 else {k: x for k, x in v.items() if not k.startswith("bp_")})
              for t, v in readings(None, 3720.0, seed=2)]
    processor, events, inputs = run(registry, stream)
    pipeline = processor.pipelines[0]
    assert isinstance(pipeline, VitalsPipeline) and len(inputs) == 60 and pipeline.unscored == 1  # at 3660 s
    (quality,) = [e for e in events if e.kind is EventKind.QUALITY]
    assert quality.label == "no_bp_sys" and (quality.t_us - T0) / 1e6 == 3660.0


def test_patient_readings_remember_a_vitals_last_value_after_letting_its_reading_go() -> None:
    buf = PatientReadings()
    nan = float("nan")
    buf.append(0, [70.0, 97.0, 120.0, 80.0, 36.9, 15.0, 0.0, 1.0])
    for k in range(1, 400):
        buf.append(k * 1_000_000, [70.0, 97.0, nan, nan, nan, 15.0, 0.0, nan])
    buf.drop_before(100_000_000)
    assert buf.n == 300 and buf.carried[2] == 120.0 and buf.carried_us[2] == 0
    times, rows, n, carried = buf.for_window(99_000_000, 399_000_000)
    assert n == 300 and carried == ("bp_sys", "bp_dia", "temp_c", "acvpu")
    assert len(times) == buf.n + 1 and times[0] == 99_000_001 and rows[0, 2:5].tolist() == [120.0, 80.0, 36.9]
    assert np.isnan(rows[0, [0, 1, 5, 6]]).all() and rows[0, 7] == 1.0 and times[1] == 100_000_000
    # a window starting later: the readings before it are still held, and none has a blood pressure
    times, rows, n, carried = buf.for_window(200_000_000, 399_000_000)
    assert n == 199 and carried == ("bp_sys", "bp_dia", "temp_c", "acvpu") and times[101] == 200_000_001
    # an hour on, the cuff reading no longer stands; the temperature (four hours) still does
    times, rows, n, carried = buf.for_window(3_400_000_000, 3_700_000_000)
    assert carried == ("temp_c",) and n == 0
