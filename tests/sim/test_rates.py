"""Event rates: a live ward is simulated at clinically plausible rates by default, within the cited
ranges over long simulated runs; the demo profile is labelled; the generators honour the rates."""

from __future__ import annotations

import numpy as np
import pytest

from firmware_sim.cardiac import BeatGenerator
from firmware_sim.config import SimConfig
from firmware_sim.dataset import generate
from firmware_sim.devices import MotionWearable
from firmware_sim.motion import MotionGenerator
from firmware_sim.persona import make_persona
from firmware_sim.rates import DEMO, ENRICHED, LENGTH_OF_STAY_H, REALISTIC, rates
from firmware_sim.scenario import build_devices, default_scenario

PATIENT_DAYS = 20_000


def test_live_simulators_default_to_realistic_rates_and_the_demo_profile_says_what_it_is() -> None:
    assert SimConfig().rates == "realistic" and default_scenario(3).rates == "realistic"
    assert "DEMO" in DEMO.label and "not clinical" in DEMO.label
    with pytest.raises(ValueError, match="known: realistic, demo, enriched"):
        rates("dramatic")
    wearables = [d for d in build_devices(default_scenario(5, seed=1)) if isinstance(d, MotionWearable)]
    assert all(w.motion.generator.fall_rate_per_h == REALISTIC.fall_rate(w.motion.generator.persona)
               for w in wearables)


def test_realistic_falls_are_3_to_5_per_1000_patient_days_across_the_population() -> None:
    """The fall rate each live wearable is given (its persona's share of the mean), over 2,000
    personas: inpatient falls run at 3-5 per 1,000 bed-days. (That a wearable falls at the rate it
    is given is counted in simulated motion below; at a ward's rate that count would take years.)"""
    rates_per_h = [REALISTIC.fall_rate(make_persona(11, i)) for i in range(2000)]
    assert all(r is not None and r > 0 for r in rates_per_h)
    per_1000_days = float(np.mean(rates_per_h)) * 24 * 1000  # type: ignore[arg-type]
    assert 3.0 <= per_1000_days <= 5.0, per_1000_days


def test_realistic_deteriorations_are_20_to_40_per_1000_admissions_over_a_long_run() -> None:
    """Dataset mode at the realistic profile: 400 patients for 50 days each (20,000 patient-days), a
    reading every 10 minutes; its deterioration truth counted per 1,000 admissions (rapid-response calls
    run at 20-40; an admission is LENGTH_OF_STAY_H hours)."""
    recordings = list(generate("vitals", 400, PATIENT_DAYS / 400 * 86400.0, seed=3, rate_hz=1 / 600, rates="realistic"))
    courses = [a for r in recordings for a in r.truth if a.kind == "deterioration"]
    admissions = PATIENT_DAYS * 24 / LENGTH_OF_STAY_H
    per_1000 = len(courses) / admissions * 1000
    assert 20.0 <= per_1000 <= 40.0, per_1000
    kinds = {c.label: sum(1 for o in courses if o.label == c.label) for c in courses}
    assert set(kinds) == {"sepsis", "respiratory", "haemorrhage"} and kinds["sepsis"] > kinds["haemorrhage"]
    # courses take hours on a ward (onset to resolution is 2.25 x onset-to-worst)
    assert min(c.t_end_s - c.t_s for c in courses if c.t_end_s < PATIENT_DAYS / 400 * 86400.0) >= 2.25 * 3600


def test_realistic_arrhythmia_episode_rates_are_within_the_cited_ranges() -> None:
    vt = [REALISTIC.apply(make_persona(2, i, condition="vt_prone")) for i in range(300)]
    af = [REALISTIC.apply(make_persona(2, i, condition="af_paroxysmal")) for i in range(300)]
    per_day = np.array([p.vt_runs_per_hour * 24 for p in vt])
    assert per_day.min() >= 1.0 and per_day.max() <= 6.0 and per_day.std() > 0.5  # 1-6 NSVT runs a day
    episodes_per_day = np.array([p.af_episodes_per_hour * 24 for p in af])
    assert episodes_per_day.min() >= 1.0 and episodes_per_day.max() <= 4.0
    burden = episodes_per_day * np.mean(REALISTIC.af_episode_s or (0, 0)) / 86400
    assert burden.min() >= 0.003 and burden.max() <= 0.15
    pvc = REALISTIC.apply(make_persona(2, 0, condition="pvc"))
    assert 0.01 <= pvc.p_v <= 0.05  # "frequent" PVCs, not one beat in eight


@pytest.mark.slow
def test_the_beat_generator_honours_the_vt_and_af_rates_it_is_given() -> None:
    """Counted in simulated rhythm: 12 h of a VT-prone and of an AF-prone patient at the demo's rates
    (3 VT runs/h, 2 AF episodes/h; at a ward's rates the counts would take weeks of rhythm)."""
    hours = 12.0
    vt = BeatGenerator(DEMO.apply(make_persona(4, 1, condition="vt_prone")), np.random.default_rng(1))
    vt.until(hours * 3600)
    runs = sum(e.label == "VT" for e in vt.episodes)
    af = BeatGenerator(DEMO.apply(make_persona(4, 2, condition="af_paroxysmal")), np.random.default_rng(2))
    af.until(hours * 3600)
    episodes = [e for e in af.episodes if e.label == "AF"]
    # Poisson counts within about 3 standard deviations of 36 and 24
    assert 18 <= runs <= 54, runs
    assert 10 <= len(episodes) <= 40, len(episodes)
    assert all(60.0 <= e.end - e.start <= 180.0 for e in episodes)


def test_the_motion_generator_honours_its_fall_rate_and_the_enriched_recordings_keep_theirs() -> None:
    """Falls counted in simulated motion (10 Hz, 40 patient-hours) at 1 fall per hour, and the
    training recordings' chain-driven rate, unchanged by the profiles."""
    falls, seconds = 0, 0.0
    for i in range(8):
        gen = MotionGenerator(make_persona(6, i), 10.0, np.random.default_rng(i), fall_rate_per_h=1.0)
        t = 0.0
        while t < 5 * 3600:
            block = gen.next_block()
            falls += sum(1 for e in block.events if e[3] == "fall")
            t += len(block.acc) / 10.0
        seconds += t
    assert 20 <= falls <= 62, falls  # Poisson(40) within ~3 sd
    enriched = list(generate("motion", 3, 600.0, seed=1, rate_hz=10.0))
    assert ENRICHED.falls_per_patient_hour is None
    assert sum(a.kind == "fall" for r in enriched for a in r.truth) >= 10  # dozens per hour, for training


def _falls_in_a_minute(profile: str) -> int:
    falls = 0
    for d in build_devices(default_scenario(20, seed=0, rates=profile)):  # type: ignore[arg-type]
        if isinstance(d, MotionWearable):
            d.motion.render(50 * 60)
            falls += sum(1 for *_, kind in d.motion.pending_events if kind == "fall")
    return falls


def test_a_default_ward_is_quiet_twenty_patients_for_a_minute_have_no_fall() -> None:
    """Before the rates, the demo's 20 patients fell 13 times in 60 s; the enriched (training) profile
    still does, through the same code."""
    assert _falls_in_a_minute("realistic") == 0
    assert _falls_in_a_minute("enriched") >= 5
    demo_devices = build_devices(default_scenario(20, seed=0, rates="demo"))
    demo_rates = [d.motion.generator.fall_rate_per_h for d in demo_devices if isinstance(d, MotionWearable)]
    assert all(r is not None and 0.1 < r < 2.0 for r in demo_rates)
