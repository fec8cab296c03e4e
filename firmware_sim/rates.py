"""How often things happen to simulated patients: falls, arrhythmia episodes and deteriorations.

Three named profiles (``iomt sim --rates NAME``, ``rates = "NAME"`` in a scenario):

``realistic`` (the default of every live simulator)
    Clinically plausible rates per patient-hour, so a simulated ward is as quiet as a real one:

    * **Falls**: 4 per 1,000 patient-days on average. Inpatient falls run at 3-5 per 1,000 bed-days in
      acute hospitals (Oliver D, Healey F, Haines TP. *Preventing falls and fall-related injuries in
      hospitals.* Clin Geriatr Med 2010;26:645-92; NPSA, *Slips, trips and falls in hospital*, 2007).
      Each persona's ``fall_risk`` (older patients 1.5x) scales its share around that mean.
    * **Deteriorations needing escalation**: 30 per 1,000 admissions. Mature rapid-response systems
      are called 20-40 times per 1,000 admissions (Jones DA, DeVita MA, Bellomo R. *Rapid-response
      teams.* N Engl J Med 2011;365:139-46); with the English mean length of stay of ~4.5 days
      (NHS Digital, Hospital Admitted Patient Care Activity 2019-20) that is ~2.8e-4 per
      patient-hour. Mix: sepsis 50 %, respiratory 30 %, haemorrhage 20 % (assumed; infection and
      respiratory failure lead the causes of rapid-response calls). Onset to worst over hours.
    * **Ventricular tachycardia runs** (``vt_prone`` patients only): 1-6 per day. Non-sustained VT is
      found on 24-48 h Holter in 30-80 % of patients with structural heart disease, mostly as a few
      short runs a day (Katritsis DG, Zareba W, Camm AJ. *Nonsustained ventricular tachycardia.*
      J Am Coll Cardiol 2012;60:1993-2004).
    * **Paroxysmal AF episodes** (``af_paroxysmal`` patients only): 1-4 per day, 5-60 min each
      (burden ~0.5-15 %; assumed, consistent with paroxysmal AF as self-terminating episodes,
      Hindricks G et al. *2020 ESC Guidelines for atrial fibrillation.* Eur Heart J 2021;42:373-498).
    * **Ectopic beats** at a quarter of the enriched per-beat rates (a ``pvc`` patient ~3 % of beats,
      i.e. "frequent" PVCs of >30/h, instead of 12 %): at the enriched rates chance triplets of
      PVCs alone gave such a patient several "ventricular run" alerts an hour.

``demo`` — **raised rates for demonstrations, not clinical.**
    So that something happens within minutes on a ten-patient ward: a fall every ~2 patient-hours,
    a deterioration course every ~2 patient-hours compressed into 5-15 minutes, VT runs 3/h and AF
    episodes 2/h in the patients prone to them.

``enriched`` — the training recordings' rates (the simulators' behaviour before these profiles).
    Falls from the activity chain's own weights (~48 per patient-hour), VT runs 20-60/h, AF burden
    20-50 % in 20-120 s episodes, full ectopy: dense in events, so that models see enough of them.
    Dataset mode (``firmware_sim.dataset``) uses it by default; never a default for a live ward.

Scenarios force any event on demand whatever the profile: a scripted fall (``schedule``), a
deterioration course (``[[deteriorations]]``) or an arrhythmia episode (``[[arrhythmias]]``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # the command line imports this module for its choices: keep it light
    from firmware_sim.persona import Persona

RatesName = Literal["realistic", "demo", "enriched"]
RATE_NAMES: tuple[RatesName, ...] = ("realistic", "demo", "enriched")

#: Mean of ``Persona.fall_risk`` over the population (U(0.5, 1.5), x1.5 for the ~37 % aged 65+).
FALL_RISK_MEAN = 1.0 + 0.5 * (90 - 65) / (90 - 22)
#: Mean length of stay assumed to turn rates per admission into rates per patient-hour.
LENGTH_OF_STAY_H = 4.5 * 24
#: Deterioration courses and their share of deteriorations.
COURSE_MIX: dict[str, float] = {"sepsis": 0.5, "respiratory": 0.3, "haemorrhage": 0.2}


@dataclass(frozen=True, slots=True)
class EventRates:
    """One profile. ``None`` for a fall rate means "the activity chain's own weights" (enriched)."""

    name: RatesName
    label: str
    #: population mean; a persona's rate is this x fall_risk / FALL_RISK_MEAN
    falls_per_patient_hour: float | None
    deteriorations_per_patient_hour: float
    #: onset-to-worst duration range (s) per course
    course_duration_s: dict[str, tuple[float, float]]
    #: VT runs per hour of a vt_prone patient (range, placed by the persona's own draw); None: unchanged
    vt_runs_per_hour: tuple[float, float] | None
    #: AF episodes per hour of an af_paroxysmal patient and their length (s); None: unchanged
    af_episodes_per_hour: tuple[float, float] | None
    af_episode_s: tuple[float, float] | None
    #: multiplies the persona's per-beat S, V and F probabilities
    ectopy_scale: float

    def fall_rate(self, persona: Persona) -> float | None:
        """This persona's falls per hour (None: the chain's own weights)."""
        if self.falls_per_patient_hour is None:
            return None
        return self.falls_per_patient_hour * persona.fall_risk / FALL_RISK_MEAN

    def apply(self, persona: Persona) -> Persona:
        """The persona as a live device of this profile simulates it: episode rates and ectopy rescaled,
        deterministically from the persona's own (enriched) draws."""
        changes: dict[str, object] = {}
        if self.vt_runs_per_hour is not None and persona.vt_runs_per_hour > 0:
            lo, hi = self.vt_runs_per_hour
            changes["vt_runs_per_hour"] = lo + (hi - lo) * _position(persona.vt_runs_per_hour, 20.0, 60.0)
        if self.af_episodes_per_hour is not None and persona.af_burden > 0:
            lo, hi = self.af_episodes_per_hour
            changes["af_episodes_per_hour"] = lo + (hi - lo) * _position(persona.af_burden, 0.2, 0.5)
            if self.af_episode_s is not None:
                changes["af_episode_min_s"], changes["af_episode_max_s"] = self.af_episode_s
        if self.ectopy_scale != 1.0:
            changes.update(p_s=persona.p_s * self.ectopy_scale, p_v=persona.p_v * self.ectopy_scale,
                           p_f=persona.p_f * self.ectopy_scale)
        return replace(persona, **changes) if changes else persona  # type: ignore[arg-type]


def _position(value: float, lo: float, hi: float) -> float:
    return min(1.0, max(0.0, (value - lo) / (hi - lo)))


_H = 3600.0
REALISTIC = EventRates(
    name="realistic",
    label="realistic (clinically plausible rates; see firmware_sim.rates)",
    falls_per_patient_hour=4.0 / 1000 / 24,
    deteriorations_per_patient_hour=30.0 / 1000 / LENGTH_OF_STAY_H,
    course_duration_s={"sepsis": (6 * _H, 24 * _H), "respiratory": (4 * _H, 24 * _H),
                       "haemorrhage": (1 * _H, 4 * _H)},
    vt_runs_per_hour=(1 / 24, 6 / 24),
    af_episodes_per_hour=(1 / 24, 4 / 24),
    af_episode_s=(5 * 60.0, 60 * 60.0),
    ectopy_scale=0.25,
)
DEMO = EventRates(
    name="demo",
    label="DEMO (raised event rates so that something happens within minutes; not clinical)",
    falls_per_patient_hour=0.5,
    deteriorations_per_patient_hour=0.5,
    course_duration_s={"sepsis": (8 * 60.0, 15 * 60.0), "respiratory": (6 * 60.0, 12 * 60.0),
                       "haemorrhage": (5 * 60.0, 8 * 60.0)},
    vt_runs_per_hour=(3.0, 3.0),
    af_episodes_per_hour=(2.0, 2.0),
    af_episode_s=(60.0, 180.0),
    ectopy_scale=0.25,
)
ENRICHED = EventRates(
    name="enriched",
    label="enriched (training recordings: dense in events; not a ward)",
    falls_per_patient_hour=None,
    deteriorations_per_patient_hour=2.0,
    course_duration_s={"sepsis": (10 * 60.0, 8 * _H), "respiratory": (10 * 60.0, 8 * _H),
                       "haemorrhage": (10 * 60.0, 3 * _H)},
    vt_runs_per_hour=None,
    af_episodes_per_hour=None,
    af_episode_s=None,
    ectopy_scale=1.0,
)
PROFILES: dict[str, EventRates] = {r.name: r for r in (REALISTIC, DEMO, ENRICHED)}


def rates(name: str) -> EventRates:
    """The profile called ``name``; a ValueError names the known ones."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown event-rate profile {name!r}; known: {', '.join(PROFILES)}") from None
