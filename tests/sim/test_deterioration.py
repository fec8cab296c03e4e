"""Deterioration courses: the intended vital-sign changes and NEWS2 trajectory on ground truth, the
readings' o2/acvpu values, per-reading truth, and courses forced from a scenario file."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from firmware_sim.deterioration import CONSCIOUSNESS, HR, O2, RR, SBP, SPO2, TEMP, Course, CoursePlan
from firmware_sim.devices import EcgPatch, VitalsMonitor
from firmware_sim.persona import make_persona
from firmware_sim.rates import REALISTIC
from firmware_sim.scenario import ScenarioError, build_devices, load_scenario
from firmware_sim.truth import TruthEvent
from firmware_sim.vitals import VitalsGenerator
from iomt.wire.frames import Reading, decode_payload
from iomt.wire.vitals import FIELDS, parse_vitals
from models.clinical import news2
from models.clinical.risk import Risk, observation, risk_of

QUIET = replace(REALISTIC, deteriorations_per_patient_hour=0.0)
ONSET = 3600.0


def course_truth(kind: str, duration: float, index: int = 0) -> tuple[np.ndarray, np.ndarray, Course]:
    """True vitals at 1 Hz: an hour stable, the course, its peak and recovery, an hour after."""
    course = Course(kind, ONSET, duration, forced=True)
    plan = CoursePlan(QUIET, np.random.default_rng(index), forced=[course])
    gen = VitalsGenerator(make_persona(5, index, condition="normal"), np.random.default_rng(100 + index), plan)
    t = np.arange(0.0, course.end_s + 3600.0)
    return t, gen.render(t).truth, course


def news2_of(rows: np.ndarray) -> tuple[np.ndarray, list[Risk]]:
    scores = [news2.score(observation(parse_vitals(dict(zip(FIELDS, map(float, r), strict=True))))) for r in rows]
    return np.array([s.total for s in scores]), [risk_of(s) for s in scores]


def first(mask: np.ndarray, t: np.ndarray) -> float:
    hit = np.flatnonzero(mask)
    assert len(hit), "never happened"
    return float(t[hit[0]])


@pytest.mark.parametrize("kind", ["sepsis", "respiratory", "haemorrhage"])
@pytest.mark.parametrize("index", [0, 1, 2])
def test_each_course_takes_news2_through_the_bands_and_back(kind: str, index: int) -> None:
    t, truth, course = course_truth(kind, 4 * 3600.0, index)
    every = slice(None, None, 60)
    score, risk = news2_of(truth[every])
    tt = t[every]
    before, worst = tt < ONSET, (tt >= ONSET + course.duration_s) & (tt < course.peak_end_s)
    assert score[before].max() <= 4 and Risk.MEDIUM not in [r for r, b in zip(risk, before, strict=True) if b]
    assert score[worst].min() >= 7, score[worst]
    medium = first((score >= 5) & (tt >= ONSET), tt)
    high = first(score >= 7, tt)
    assert ONSET < medium < high < ONSET + course.duration_s
    assert score[tt >= course.end_s].max() <= 4  # recovered
    # rises to the worst: the mean score over the quarters of the way up never falls
    quarters = [score[(tt >= ONSET + q * course.duration_s) & (tt < ONSET + (q + 0.25) * course.duration_s)].mean()
                for q in (0.0, 0.25, 0.5, 0.75)]
    assert quarters == sorted(quarters), quarters


def test_sepsis_fever_tachycardia_and_hypotension_come_before_hypoxaemia_and_confusion() -> None:
    t, truth, course = course_truth("sepsis", 6 * 3600.0)
    base = truth[t < ONSET].mean(axis=0)
    tachy = first(truth[:, HR] > base[HR] + 20, t)
    fever = first(truth[:, TEMP] > 38.0, t)
    tachypnoea = first(truth[:, RR] > base[RR] + 4, t)
    hypotension = first(truth[:, SBP] < base[SBP] - 20, t)
    hypoxaemia = first(truth[:, SPO2] < base[SPO2] - 2.5, t)
    confusion = first(truth[:, CONSCIOUSNESS] >= 1, t)
    oxygen = first(truth[:, O2] > 0, t)
    assert max(tachy, fever, tachypnoea) < hypotension < min(hypoxaemia, confusion)
    assert oxygen > hypoxaemia - 1800 and course.phase(ONSET + 60) == "sirs"
    assert course.phase(course.start_s + 0.9 * course.duration_s) == "septic_shock"


def test_respiratory_course_starts_and_escalates_oxygen_which_partly_restores_spo2() -> None:
    t, truth, course = course_truth("respiratory", 4 * 3600.0)
    flows = truth[(t >= ONSET) & (t < course.peak_end_s), O2]
    assert list(dict.fromkeys(flows.tolist())) == [0.0, 2.0, 4.0]
    started = first(truth[:, O2] > 0, t)
    just_before, just_after = truth[t == started - 1][0], truth[t == started][0]
    assert just_after[SPO2] - just_before[SPO2] > 2.0  # 2 L/min gives about 3 %
    assert first(truth[:, RR] > truth[t < ONSET, RR].mean() + 3, t) < started  # breathing faster first
    assert course.phase(started + 1) == "hypoxaemia_on_oxygen"


def test_haemorrhage_raises_heart_rate_before_blood_pressure_falls() -> None:
    t, truth, course = course_truth("haemorrhage", 2 * 3600.0)
    base = truth[t < ONSET].mean(axis=0)
    assert first(truth[:, HR] > base[HR] + 15, t) < first(truth[:, SBP] < base[SBP] - 15, t)
    assert [course.phase(course.start_s + f * course.duration_s) for f in (0.1, 0.3, 0.6, 0.9)] == [
        "class_I", "class_II", "class_III", "class_IV"]
    assert course.phase(course.peak_end_s + 1) == "recovery" and course.phase(course.end_s + 1) == "stable"


def test_a_compressed_course_has_the_same_shape_as_a_slow_one() -> None:
    slow = Course("sepsis", 100.0, 8 * 3600.0)
    fast = Course("sepsis", 100.0, 600.0)
    u = np.linspace(0, 1.2, 50)
    assert np.allclose(slow.effect(100.0 + u * slow.duration_s), fast.effect(100.0 + u * fast.duration_s))


def test_the_monitor_sends_o2_and_acvpu_and_per_reading_truth_with_news2() -> None:
    persona = make_persona(2, 0, condition="normal")
    plan = CoursePlan(QUIET, np.random.default_rng(1), forced=[Course("respiratory", 60.0, 300.0, forced=True)])
    monitor = VitalsMonitor("bed-1", persona, np.random.default_rng(2), plan=plan)
    start_us = 1_764_000_000_000_000
    monitor.bind(start_us, 0.0)
    source = monitor.sources[0]
    readings = []
    for seq in range(600):
        item = decode_payload(source.render(seq, start_us + seq * 1_000_000), device="bed-1", stream="vitals")
        assert isinstance(item, Reading)
        readings.append(item)
    truth = monitor.take_truth(start_us + 10**9)
    vitals = [e for e in truth if e.kind == "vitals"]
    assert [e.extra["seq"] for e in vitals] == list(range(600))
    assert "acvpu" not in readings[30].values and readings[30].values["o2"] == 0.0  # before the course
    assert all("acvpu" in r.values for r in readings[61:])  # scripted from the onset
    on_o2 = [r for r in readings if r.values["o2"] > 0]
    assert on_o2 and parse_vitals(on_o2[0].values).on_oxygen
    for event in vitals[::37]:
        values = event.extra["values"]
        score = news2.score(observation(parse_vitals(values)))
        assert (event.extra["news2"], event.extra["band"], event.extra["risk"]) == (
            score.total, score.band.value, risk_of(score).value)
    assert {e.label for e in vitals} == {"stable", "respiratory"}
    assert {e.extra["phase"] for e in vitals} >= {"stable", "tachypnoea", "hypoxaemia_on_oxygen", "peak"}
    assert max(e.extra["news2"] for e in vitals) >= 7
    starts = [e for e in truth if e.kind == "deterioration"]
    assert len(starts) == 1 and isinstance(starts[0], TruthEvent) and starts[0].label == "respiratory"
    assert starts[0].extra["forced"] is True and starts[0].t_end_us > starts[0].t_us


SCENARIO = """\
seed = 4

[[patients]]
count = 2

[[deteriorations]]
course = "sepsis"
devices = ["patient-0002"]
start_s = 5
duration_s = 120

[[arrhythmias]]
rhythm = "VT"
devices = ["patient-0001"]
start_s = 4
duration_s = 2.5

[[arrhythmias]]
rhythm = "AF"
devices = ["patient-0001"]
start_s = 12
duration_s = 20
"""


def test_a_scenario_forces_courses_and_arrhythmia_episodes(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO)
    devices = build_devices(load_scenario(path))
    monitors = {d.device_id: d for d in devices if isinstance(d, VitalsMonitor)}
    assert [c.kind for c in monitors["patient-0002"].plan.courses] == ["sepsis"]
    assert monitors["patient-0001"].plan.courses == []
    ecg = next(d for d in devices if isinstance(d, EcgPatch) and d.device_id == "patient-0001")
    ecg.ecg.render(250 * 40)
    episodes = {e.label: e for e in ecg.ecg.take_episodes()}
    assert set(episodes) == {"VT", "AF"}  # a normal-rate patient with none of its own in 40 s
    assert 4.0 <= episodes["VT"].start <= 5.5 and 1.5 <= episodes["VT"].end - episodes["VT"].start <= 3.5
    assert 12.0 <= episodes["AF"].start <= 13.5 and episodes["AF"].end - episodes["AF"].start == pytest.approx(20.0)
    # the ECG of the septic patient speeds up with the course (the monitor's heart rate comes from it)
    septic = next(d for d in devices if isinstance(d, EcgPatch) and d.device_id == "patient-0002")
    septic.ecg.render(250 * 160)
    beats = septic.ecg.beats.t
    rate_late = 60 / np.diff(beats[beats > 150]).mean()
    assert rate_late > septic.ecg.persona.resting_hr + 30


def test_a_bad_course_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO.replace('course = "sepsis"', 'course = "flu"'))
    with pytest.raises(ScenarioError, match=r"line 7: deteriorations\[0\]\.course"):
        load_scenario(path)
