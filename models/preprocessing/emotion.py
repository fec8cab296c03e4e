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

from models.preprocessing.ecg import detect_r_peaks_many
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
    """Zero-phase first-order high-pass of each row (along the last axis); rows too short for the
    filter only lose their mean."""
    if x.shape[-1] < 4 * int(fs / cutoff):
        return x - np.mean(x, axis=-1, keepdims=True)
    sos = butter(1, cutoff, btype="highpass", fs=fs, output="sos")
    return np.asarray(sosfiltfilt(sos, x, axis=-1))


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
    rows = [np.asarray(x, dtype=np.float64).ravel()[None, :] for x in (ecg, eda, ppg)]
    return window_features_many(rows[0], ecg_fs, rows[1], eda_fs, rows[2], ppg_fs)[0]


def window_features_many(
    ecg: np.ndarray, ecg_fs: float, eda: np.ndarray, eda_fs: float, ppg: np.ndarray, ppg_fs: float
) -> np.ndarray:
    """:func:`window_features` of many windows at once: each signal ``(k, n)`` (equal lengths per
    signal), ``(k, STEPS, FEATURES)`` out. Resampling, R-peak detection and filtering run once for
    all rows (that is what lets an edge node keep up with many patients); each row's features are
    exactly those of the row alone."""
    e = _resample_rows(ecg, ecg_fs, ECG_FS)
    d = _resample_rows(eda, eda_fs, EDA_FS)
    p = _resample_rows(ppg, ppg_fs, PPG_FS)
    r_peaks = detect_r_peaks_many(e, ECG_FS)
    phasic = _highpass(d, EDA_FS, 0.05)
    p_ac = _highpass(p, PPG_FS, 0.5)
    out = np.zeros((len(r_peaks), STEPS, FEATURES), dtype=np.float64)
    for i, peaks in enumerate(r_peaks):
        _step_features(out[i], peaks / ECG_FS, d[i], phasic[i], p_ac[i])
    return np.clip(out, -CLIP, CLIP).astype(np.float32)


def _resample_rows(x: np.ndarray, fs_in: float, fs_out: float) -> np.ndarray:
    """:func:`resample` of each row of ``(k, n)`` (time along the rows), rows contiguous: numpy then
    reduces each row as it reduces a 1-D array (pairwise), which a column-major result would not."""
    return np.ascontiguousarray(resample(np.asarray(x, dtype=np.float64).T, fs_in, fs_out).T)


def _step_features(out: np.ndarray, r_peaks_s: np.ndarray, d: np.ndarray, phasic: np.ndarray, p_ac: np.ndarray) -> None:
    """Fill ``out`` (``(STEPS, FEATURES)``) from one window's R-peaks (s), EDA, phasic EDA and AC PPG.

    Means, deviations and percentiles of all steps are taken in one call each when every step is
    complete (row by row, numpy reduces each step exactly as it would alone).
    """
    eda_n, ppg_n = int(STEP_S * EDA_FS), int(STEP_S * PPG_FS)
    eda_full = d.size >= STEPS * eda_n and eda_n >= 2
    if eda_full:
        eda_steps = d[: STEPS * eda_n].reshape(STEPS, eda_n)
        out[:, 3] = np.mean(eda_steps, axis=1) / 10.0
        out[:, 5] = np.std(phasic[: STEPS * eda_n].reshape(STEPS, eda_n), axis=1)
    ppg_full = p_ac.size >= STEPS * ppg_n and ppg_n >= int(PPG_FS)
    if ppg_full:
        p95, p5 = np.percentile(p_ac[: STEPS * ppg_n].reshape(STEPS, ppg_n), [95, 5], axis=1)
        out[:, 7] = p95 - p5
    for k in range(STEPS):
        lo, hi = k * STEP_S, (k + 1) * STEP_S
        out[k, 0:3] = _rr_step_features(r_peaks_s, lo - STEP_S / 2, hi + STEP_S / 2)
        ds = d[int(lo * EDA_FS) : int(hi * EDA_FS)]
        ph = phasic[int(lo * EDA_FS) : int(hi * EDA_FS)]
        if ds.size >= 2:
            if not eda_full:
                out[k, 3] = float(np.mean(ds)) / 10.0
                out[k, 5] = float(np.std(ph))
            out[k, 4] = float(np.polyfit(np.arange(ds.size) / EDA_FS, ds, 1)[0]) * 10.0
            out[k, 6] = len(find_peaks(ph, prominence=0.03)[0]) / 3.0
        ps = p_ac[int(lo * PPG_FS) : int(hi * PPG_FS)]
        if ps.size >= int(PPG_FS):
            if not ppg_full:
                out[k, 7] = float(np.percentile(ps, 95) - np.percentile(ps, 5))
            beats = find_peaks(ps, distance=int(0.3 * PPG_FS), prominence=0.3 * out[k, 7] + 1e-9)[0]
            if beats.size >= 2:
                out[k, 8] = 60.0 * PPG_FS / float(np.mean(np.diff(beats))) / 100.0


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
