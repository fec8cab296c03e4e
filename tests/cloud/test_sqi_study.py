"""The published SQIs of ``cloud.real_ecg.sqi_study`` on simulated leads and hand-made detections."""

from __future__ import annotations

import numpy as np

from cloud.real_ecg.sqi_study import bsqi, lead_lines, orphanidou, spectral_sqis, windows
from firmware_sim.ecg import EcgStream
from firmware_sim.persona import make_persona
from models.preprocessing.beats import ECG_RATE_HZ, condition
from models.preprocessing.ecg import detect_r_peaks

FS = 250.0


def _lead(seconds: float = 12.0) -> np.ndarray:
    stream = EcgStream(make_persona(1, 1, condition="normal"), FS, np.random.default_rng(1))
    return stream.render(round(FS * seconds))


def test_bsqi_is_the_agreement_of_two_detectors() -> None:
    a = np.array([100, 300, 500, 700])
    assert bsqi(a, a + 10, 20) == 1.0
    assert bsqi(a, a + 50, 20) == 0.0
    assert bsqi(a, a[:2], 20) == 2 * 2 / 6


def test_a_clean_regular_lead_passes_orphanidou_and_a_long_pause_does_not() -> None:
    y = condition(_lead(), FS)[: round(10 * ECG_RATE_HZ)]
    peaks = detect_r_peaks(y, ECG_RATE_HZ)
    assert peaks.size >= 8 and orphanidou(peaks, y) is None
    # two beats dropped: one interval three times the others, over 3 s at this patient's rate
    rr = np.diff(peaks) / ECG_RATE_HZ
    assert orphanidou(np.delete(peaks, [3, 4]), y) == ("gap" if rr[2:5].sum() > 3.0 else "ratio")


def test_a_clean_lead_has_its_power_in_the_qrs_band_and_white_noise_does_not_stand_out() -> None:
    ecg = spectral_sqis(windows(_lead(), FS, 2.0, 1.0), FS)
    noise = spectral_sqis(windows(np.random.default_rng(0).normal(0, 0.1, round(FS * 12)), FS, 2.0, 1.0), FS)
    assert ecg["k_raw"].min() > noise["k_raw"].max()
    assert ecg["stand_out"].min() > noise["stand_out"].max()
    assert "Orphanidou" in lead_lines("sim", _lead(), FS, 1.0)
