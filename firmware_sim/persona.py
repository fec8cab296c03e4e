"""Simulated patients: age, resting heart rate, rhythm condition, ECG morphology, gait, stress response.

A persona is drawn from a generator seeded by ``(seed, subject index)``, so subject ``s0007`` of seed
``K`` is the same person whether 10 or 10,000 subjects are generated.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np

#: Rhythm conditions and their share of the population (a monitored, i.e. cardiac-rich, population).
CONDITIONS: dict[str, float] = {
    "normal": 0.30,
    "pac": 0.15,  # frequent supraventricular ectopics
    "pvc": 0.20,  # frequent ventricular ectopics (some fusion)
    "af_paroxysmal": 0.15,
    "vt_prone": 0.10,  # PVCs with runs of ventricular tachycardia
    "paced": 0.10,  # intermittent ventricular pacing (AAMI class Q)
}

#: Per-beat probabilities (S, V, F, Q) outside AF/VT episodes, per condition.
ECTOPY: dict[str, tuple[float, float, float, float]] = {
    "normal": (0.004, 0.004, 0.0005, 0.0),
    "pac": (0.10, 0.005, 0.001, 0.0),
    "pvc": (0.006, 0.12, 0.02, 0.0),
    "af_paroxysmal": (0.03, 0.02, 0.002, 0.0),
    "vt_prone": (0.01, 0.08, 0.015, 0.0),
    "paced": (0.005, 0.01, 0.01, 0.35),
}


@dataclass(frozen=True)
class Persona:
    """One simulated patient. Every field is plain data (JSON-able through :meth:`as_dict`)."""

    subject: str
    age: int
    sex: str
    resting_hr: float
    condition: str
    # ECG
    p_s: float
    p_v: float
    p_f: float
    p_q: float
    af_burden: float  # fraction of time in AF episodes
    vt_runs_per_hour: float
    hrv: float  # relative RR variability (SDNN / mean RR) in sinus rhythm
    ecg_gain: float  # overall QRS amplitude scale
    qrs_width: float  # scale of normal QRS width (2-3 with a bundle branch block)
    bundle_branch_block: bool  # wide normal beats (AAMI counts LBBB/RBBB beats as N)
    t_amp: float  # T-wave amplitude (mV)
    p_amp: float  # P-wave amplitude (mV)
    pr_s: float  # PR interval (s)
    v_sign: float  # polarity of this patient's ventricular ectopic QRS
    v_width: float  # Gaussian width of the ectopic R wave (s)
    noise_mv: float
    # respiration / motion / emotion
    resp_rate: float  # breaths per minute at rest
    cadence_hz: float  # walking step frequency
    gait_g: float  # vertical acceleration amplitude while walking (g)
    fall_risk: float  # relative number of falls in a motion recording
    placement: str  # "waist" | "wrist"
    eda_scl: float  # tonic skin conductance at rest (uS)
    scr_amp: float  # typical skin-conductance response amplitude (uS)
    stress_reactivity: float  # scales stress effects (HR, SCR rate, respiration)
    # ECG lead morphology of normal beats (defaults: a lead II-like qRs); varied by the training data
    r_amp: float = 1.0  # R-wave height over ecg_gain
    s_amp: float = 0.25  # S-wave depth over ecg_gain (a V1-like lead: small r, deep S)
    v_amp: float = 1.4  # ventricular ectopic R height over ecg_gain (real PVCs: about 1-3x the normal QRS)
    # supraventricular ectopic timing over the sinus RR: coupling (premature beat) and the interval after it
    # (a PAC resets the sinus node); the training data widens both to what real records show
    s_coupling_max: float = 0.8
    s_pause_max: float = 1.1
    s_sinus_p: float = 0.0  # share of supraventricular ectopics whose P wave looks like the sinus one
    # Set by an event-rate profile for live devices (firmware_sim.rates), never drawn here. 0: AF
    # episodes follow af_burden in short episodes (the enriched training recordings' way).
    af_episodes_per_hour: float = 0.0
    af_episode_min_s: float = 20.0  # length range of an AF episode
    af_episode_max_s: float = 120.0

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def make_persona(seed: int, index: int, *, condition: str | None = None) -> Persona:
    """Persona ``index`` of ``seed``; ``condition`` forces the rhythm condition."""
    rng = np.random.default_rng([seed, index, 0x9E3779B9])
    names = list(CONDITIONS)
    drawn = str(rng.choice(names, p=np.array(list(CONDITIONS.values())) / sum(CONDITIONS.values())))
    cond = condition or drawn
    if cond not in CONDITIONS:
        raise ValueError(f"unknown condition {cond!r}; known: {', '.join(CONDITIONS)}")
    age = int(rng.integers(22, 90))
    ps, pv, pf, pq = (float(p * rng.uniform(0.5, 1.5)) for p in ECTOPY[cond])
    persona = Persona(
        subject=f"s{index:04d}",
        age=age,
        sex=str(rng.choice(["F", "M"])),
        resting_hr=float(np.clip(rng.normal(72 if age < 65 else 68, 10), 50, 100)),
        condition=cond,
        p_s=ps,
        p_v=pv,
        p_f=pf,
        p_q=pq,
        af_burden=float(rng.uniform(0.2, 0.5)) if cond == "af_paroxysmal" else 0.0,
        vt_runs_per_hour=float(rng.uniform(20, 60)) if cond == "vt_prone" else 0.0,
        hrv=float(np.clip(rng.normal(0.05 if age < 50 else 0.035, 0.01), 0.015, 0.09)),
        ecg_gain=float(rng.uniform(0.6, 1.5)),
        qrs_width=float(rng.uniform(0.85, 1.2)),
        bundle_branch_block=False,
        t_amp=float(rng.uniform(0.15, 0.45)),
        p_amp=float(rng.uniform(0.08, 0.2)),
        pr_s=float(rng.uniform(0.13, 0.2)),
        v_sign=float(rng.choice([-1.0, 1.0], p=[0.35, 0.65])),
        v_width=float(rng.uniform(0.026, 0.042)),
        noise_mv=float(rng.uniform(0.008, 0.04)),
        resp_rate=float(rng.uniform(12, 18)),
        cadence_hz=float(np.clip(rng.normal(1.85 if age < 65 else 1.6, 0.12), 1.3, 2.2)),
        gait_g=float(rng.uniform(0.18, 0.35) * (1.0 if age < 65 else 0.75)),
        fall_risk=float(rng.uniform(0.5, 1.5) * (1.5 if age >= 65 else 1.0)),
        placement="waist",
        eda_scl=float(rng.uniform(1.5, 8.0)),
        scr_amp=float(rng.uniform(0.1, 0.6)),
        stress_reactivity=float(rng.uniform(0.6, 1.4)),
    )
    # Drawn last, so that adding it left every other field of existing personas unchanged.
    if rng.random() < 0.12:
        persona = replace(persona, bundle_branch_block=True, qrs_width=float(rng.uniform(2.0, 2.8)))
    return persona
