"""How much preprocessing 1.3.0's baseline-step removal changes the ECG training inputs (simulated).

    nice -n 10 .venv/bin/python scripts/check_step_training.py [--per-rate 17] [--profile release]

Draws the simulated subjects exactly as ``cloud.ecg_dataset.simulated`` does (same generator seeds and
augmentation draws) at the rates where the rule can act (>= 500 Hz; below it nothing changes), cuts
their beats with the rule and without it (``STEP_SLEW_MV_S`` set to infinity), and prints how many
subjects had a step removed, how many R-peaks differ and how many beat vectors changed in subjects whose
R-peaks are all the same. About 2 minutes for the release profile's 51 subjects on a quiet core.
"""

from __future__ import annotations

import argparse
import math
import sys

import numpy as np

import models.preprocessing.steps as steps
from cloud.ecg_dataset import RATES_HZ, Augmentation, vary_lead
from cloud.profiles import PROFILES
from firmware_sim.dataset import generate
from models.preprocessing.beats import ECG_RATE_HZ, beat_vectors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="release", choices=sorted(PROFILES))
    parser.add_argument("--per-rate", type=int, default=17, help="subjects per rate (the release draws 17)")
    args = parser.parse_args()
    profile = PROFILES[args.profile]["ecg"][0]
    per_rate = math.ceil(profile.subjects / len(RATES_HZ))
    subjects = with_step = beats = peaks_differ = vectors_changed = 0
    for g, rate in enumerate(RATES_HZ):
        if rate < steps.STEP_MIN_RATE_HZ:
            continue
        count = min(args.per_rate, per_rate, profile.subjects - g * per_rate)
        for rec in generate("ecg", count, profile.seconds, profile.seed + 1000 * g, rate_hz=rate, vary=vary_lead):
            rng = np.random.default_rng([profile.seed, g, int(rec.subject.lstrip("s"))])
            aug = Augmentation.draw(rng, rate)
            signal = aug.apply(np.asarray(rec.signals["ecg"][:, 0], dtype=np.float64), rng)
            subjects += 1
            with_step += steps.find_steps_many(signal[None, :], rate)[0].size > 0
            t_new, v_new = beat_vectors(signal, rate)
            bound = steps.STEP_SLEW_MV_S
            steps.STEP_SLEW_MV_S = math.inf
            try:
                t_old, v_old = beat_vectors(signal, rate)
            finally:
                steps.STEP_SLEW_MV_S = bound
            beats += t_old.size
            same = np.intersect1d(np.round(t_old * ECG_RATE_HZ), np.round(t_new * ECG_RATE_HZ)).size
            peaks_differ += max(t_old.size, t_new.size) - same
            if np.array_equal(t_old, t_new):
                vectors_changed += int(np.sum(np.abs(v_old - v_new).max(axis=1) > 1e-6))
    sys.stdout.write(f"profile {args.profile}, simulated subjects at >= {steps.STEP_MIN_RATE_HZ:.0f} Hz: {subjects}, "
                     f"{beats} beats; a step removed in {with_step}; R-peaks differing {peaks_differ}; beat vectors "
                     f"changed (subjects with the same R-peaks) {vectors_changed}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
