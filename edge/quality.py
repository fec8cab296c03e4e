"""Signal-quality checks that run before any inference: a model never sees garbage.

Pure functions over arrays, cheap enough to run on every window (a periodogram, not Welch).
Each returns ``None`` when the window is usable, otherwise the name of
the problem — ``lead_off``, ``flat_line``, ``saturation`` or ``motion_artifact`` — which becomes a
signal-quality event instead of an inference.
"""

from __future__ import annotations

import numpy as np

#: An ECG whose peak-to-peak amplitude is below this carries no cardiac signal (mV).
ECG_FLAT_MV = 0.05
#: A DC level this far from zero means an electrode is off and the input floats to a rail (mV);
#: no ECG front end passes a real baseline this far off.
ECG_LEAD_OFF_DC_MV = 5.0
#: Share of samples sitting at the window's extreme value that indicates clipping.
CLIPPED_SHARE = 0.01
#: Share of ECG power below 0.7 Hz or above 40 Hz beyond which the beats are buried in artifact.
ECG_ARTIFACT_SHARE = 0.6
#: Accelerometer full-scale (g) at which a motion sensor clips.
ACC_FULL_SCALE_G = 7.9


def _clipped_share(x: np.ndarray) -> float:
    top = float(np.max(np.abs(x)))
    if top == 0.0:
        return 0.0
    return float(np.mean(np.abs(x) >= top * 0.999))


def ecg_quality(x: np.ndarray, fs: float) -> str | None:
    """Quality problem of a single-lead ECG window in mV, or ``None``."""
    x = np.asarray(x, dtype=np.float64).ravel()
    if x.size < 2:
        return "flat_line"
    if abs(float(np.median(x))) > ECG_LEAD_OFF_DC_MV:
        return "lead_off"
    if float(np.ptp(x)) < ECG_FLAT_MV:
        return "flat_line"
    if _clipped_share(x) > CLIPPED_SHARE:
        return "saturation"
    power = np.abs(np.fft.rfft(x - np.mean(x))) ** 2
    freqs = np.fft.rfftfreq(x.size, 1.0 / fs)
    total = float(np.sum(power))
    if total > 0:
        outside = float(np.sum(power[(freqs < 0.7) | (freqs > 40.0)])) / total
        if outside > ECG_ARTIFACT_SHARE:
            return "motion_artifact"
    return None


def motion_quality(acc: np.ndarray) -> str | None:
    """Quality problem of an accelerometer window ``(n, 3)`` in g, or ``None``.

    Large accelerations are what a fall looks like, so only a sensor stuck at its rail or dead
    (no variation at all, not even gravity noise) is rejected.
    """
    a = np.asarray(acc, dtype=np.float64)
    if a.shape[0] < 2:
        return "flat_line"
    if float(np.max(np.ptp(a, axis=0))) < 1e-4:
        return "flat_line"
    if float(np.mean(np.abs(a) >= ACC_FULL_SCALE_G)) > CLIPPED_SHARE * 2:
        return "saturation"
    return None
