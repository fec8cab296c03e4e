"""Emotion-model input: a window of ECG + EDA + PPG summarised as a short sequence of feature steps.

A :data:`WINDOW_S` window is split into :data:`STEPS` steps; each step becomes :data:`FEATURES`
physiological features (heart rate and its variability from the ECG R-peaks, skin-conductance
level, slope and phasic activity from the EDA, pulse amplitude and rate from the PPG), scaled by
fixed constants to about unit size. The LSTM reads the steps in order, so it sees how arousal
builds up or fades within the window.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, find_peaks, sosfiltfilt

from models.preprocessing.ecg import detect_r_peaks
from models.preprocessing.resample import resample

WINDOW_S = 60.0
HOP_S = 15.0
STEPS = 6
STEP_S = WINDOW_S / STEPS
#: hr/100, rmssd*10, rr sd*10, eda level/10, eda slope (uS/s *10), eda phasic sd, scr count/3,
#: ppg amplitude, ppg rate/100.
FEATURES = 9
FEATURE_NAMES = (
    "hr_100bpm",
    "rmssd_100ms",
    "sdnn_100ms",
    "eda_level_10us",
    "eda_slope_0.1us_s",
    "eda_phasic_sd_us",
    "scr_per_step_3",
    "ppg_amplitude",
    "ppg_rate_100bpm",
)
ECG_FS = 250.0
EDA_FS = 8.0
PPG_FS = 64.0
CLIP = 8.0


def _highpass(x: np.ndarray, fs: float, cutoff: float) -> np.ndarray:
    if x.size < 4 * int(fs / cutoff):
        return x - np.mean(x)
    sos = butter(1, cutoff, btype="highpass", fs=fs, output="sos")
    return np.asarray(sosfiltfilt(sos, x))


def _rr_step_features(peaks_s: np.ndarray, lo: float, hi: float) -> tuple[float, float, float]:
    sel = peaks_s[(peaks_s >= lo) & (peaks_s < hi)]
    rr = np.diff(sel)
    rr = rr[(rr > 0.27) & (rr < 2.0)]
    if rr.size < 2:
        return 0.0, 0.0, 0.0
    return 60.0 / float(np.mean(rr)) / 100.0, float(np.sqrt(np.mean(np.diff(rr) ** 2))) * 10.0, float(np.std(rr)) * 10.0


def window_features(
    ecg: np.ndarray, ecg_fs: float, eda: np.ndarray, eda_fs: float, ppg: np.ndarray, ppg_fs: float
) -> np.ndarray:
    """``(STEPS, FEATURES)`` float32 for one window (each signal covering :data:`WINDOW_S`)."""
    e = resample(np.asarray(ecg, dtype=np.float64).ravel(), ecg_fs, ECG_FS)
    d = resample(np.asarray(eda, dtype=np.float64).ravel(), eda_fs, EDA_FS)
    p = resample(np.asarray(ppg, dtype=np.float64).ravel(), ppg_fs, PPG_FS)
    r_peaks = detect_r_peaks(e, ECG_FS) / ECG_FS
    phasic = _highpass(d, EDA_FS, 0.05)
    p_ac = _highpass(p, PPG_FS, 0.5)
    out = np.zeros((STEPS, FEATURES), dtype=np.float64)
    for k in range(STEPS):
        lo, hi = k * STEP_S, (k + 1) * STEP_S
        out[k, 0:3] = _rr_step_features(r_peaks, lo - STEP_S / 2, hi + STEP_S / 2)
        ds = d[int(lo * EDA_FS) : int(hi * EDA_FS)]
        ph = phasic[int(lo * EDA_FS) : int(hi * EDA_FS)]
        if ds.size >= 2:
            out[k, 3] = float(np.mean(ds)) / 10.0
            out[k, 4] = float(np.polyfit(np.arange(ds.size) / EDA_FS, ds, 1)[0]) * 10.0
            out[k, 5] = float(np.std(ph))
            out[k, 6] = len(find_peaks(ph, prominence=0.03)[0]) / 3.0
        ps = p_ac[int(lo * PPG_FS) : int(hi * PPG_FS)]
        if ps.size >= int(PPG_FS):
            out[k, 7] = float(np.percentile(ps, 95) - np.percentile(ps, 5))
            beats = find_peaks(ps, distance=int(0.3 * PPG_FS), prominence=0.3 * out[k, 7] + 1e-9)[0]
            if beats.size >= 2:
                out[k, 8] = 60.0 * PPG_FS / float(np.mean(np.diff(beats))) / 100.0
    return np.clip(out, -CLIP, CLIP).astype(np.float32)


def emotion_windows(
    signals: dict[str, np.ndarray], rates: dict[str, float], hop_s: float = HOP_S
) -> tuple[np.ndarray, np.ndarray]:
    """``(features (k, STEPS, FEATURES), start times in s)`` over a recording with ``ecg``, ``eda``, ``ppg``."""
    dur = min(len(signals[s]) / rates[s] for s in ("ecg", "eda", "ppg"))
    starts = np.arange(0.0, dur - WINDOW_S + 1e-9, hop_s)
    rows = []
    for t0 in starts:
        cut = {s: signals[s][int(t0 * rates[s]) : int((t0 + WINDOW_S) * rates[s])] for s in ("ecg", "eda", "ppg")}
        rows.append(window_features(cut["ecg"], rates["ecg"], cut["eda"], rates["eda"], cut["ppg"], rates["ppg"]))
    if not rows:
        return np.zeros((0, STEPS, FEATURES), dtype=np.float32), starts
    return np.stack(rows), starts
