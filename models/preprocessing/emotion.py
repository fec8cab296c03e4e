"""Emotion-model input: a minute of ECG + EDA + PPG as a short sequence of unit-free feature steps.

A :data:`WINDOW_S` window is split into :data:`STEPS` steps of :data:`FEATURES` features each; the
LSTM reads the steps in order, so it sees how arousal builds up or fades within the window.

**Nothing depends on the units or the gain of a channel** (input 2: :data:`RELATIVE_VERSION`). Real bands
send PPG in arbitrary units and EDA in raw ADC counts as often as in microsiemens, and the 1.0.0
features (PPG amplitude and EDA level in absolute terms) flipped class with the gain. Here:

* heart rate and its variability come from beat times only: the ECG is high-passed and divided by
  its own R-wave height before the R-peak search, so any positive gain and any offset find the same
  beats; the PPG's pulse rate comes from its peaks, found relative to its own pulse height;
* every amplitude is relative to the subject's own recent past (:class:`SubjectBaseline`, the last
  :data:`HISTORY_WINDOWS` windows of the same device, the current one included, its calm end taken
  as the reference: :data:`CALM_QUANTILE`): EDA as a z-like score (level minus the baseline level;
  slope and phasic activity; all divided by the baseline's spread), PPG pulse amplitude as the log of
  its ratio to the baseline's, heart rate and RMSSD also against their baseline values. A gain and
  an offset cancel in each of them.

A baseline is state: windows of one subject must reach it in time order (training walks each
recording from its start with :func:`emotion_windows`; the edge keeps one per device and feeds it
every window of that device). The first windows of a subject are their own baseline, so they read as
"like this person's usual" whatever the person is doing: relative features cannot know better.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.signal import find_peaks

from models.preprocessing.ecg import detect_r_peaks_many, zero_phase
from models.preprocessing.resample import resample

#: Input format version (semantic, recorded with each model): major 1 was the 9 absolute features
#: per step (PPG amplitude and EDA level in the channel's units); major 2 is these 11 unit-free,
#: baseline-relative ones. This module's own version: the other models' inputs did not change.
RELATIVE_VERSION = "2.0.0"
#: Majors of input this module makes: only 2 (a 1.x emotion model would read 2.x features as garbage).
RUNS_MAJORS = ("2",)

WINDOW_S = 60.0
HOP_S = 15.0
STEPS = 6
STEP_S = WINDOW_S / STEPS
FEATURE_NAMES = (
    "hr_100bpm",
    "rmssd_100ms",
    "sdnn_100ms",
    "hr_vs_baseline_10bpm",
    "rmssd_vs_baseline_log",
    "eda_level_vs_baseline",
    "eda_slope_vs_baseline",
    "eda_phasic_vs_baseline",
    "scr_per_step_3",
    "ppg_amplitude_vs_baseline_log",
    "ppg_rate_100bpm",
)
FEATURES = len(FEATURE_NAMES)
ECG_FS = 250.0
EDA_FS = 8.0
PPG_FS = 64.0
CLIP = 8.0
#: How many past windows (at :data:`HOP_S`: 20 minutes) make a subject's baseline.
HISTORY_WINDOWS = 80
#: The calm end of the history is the reference (percentile): heart rate and EDA level at their
#: lower quartile, PPG pulse amplitude (narrowed by vasoconstriction under stress) at its upper one,
#: so a baseline holds while up to three quarters of the last 20 minutes were aroused.
CALM_QUANTILE = 25.0
#: A skin-conductance response rises by at least this share of the subject's EDA spread.
SCR_PROMINENCE = 0.25
#: The high-passed ECG's R waves are scaled to this height before the R-peak search (which works in mV).
ECG_NOMINAL = 1.0
#: The share of the ECG's largest absolute values taken as its R-wave height (its 99.5th percentile).
ECG_HEIGHT_PERCENTILE = 99.5


@dataclass(frozen=True, slots=True)
class Measures:
    """What one window measures before it is put against the subject's baseline.

    Per step: heart rate (bpm), RMSSD and SDNN (s) from beat times; EDA level, slope (per s) and
    phasic standard deviation in the EDA's own units; PPG pulse amplitude in its own units and pulse
    rate (bpm). ``nan`` where a step has no such value (too few beats, no samples). Per window: the
    EDA's 5-95 % range and the phasic EDA (for the response count, which needs the baseline's spread).
    """

    hr: np.ndarray
    rmssd: np.ndarray
    sdnn: np.ndarray
    eda_level: np.ndarray
    eda_slope: np.ndarray
    eda_phasic_sd: np.ndarray
    ppg_amp: np.ndarray
    ppg_rate: np.ndarray
    eda_range: float
    phasic: np.ndarray


@dataclass(frozen=True, slots=True)
class Reference:
    """A subject's baseline as one window is put against it (``nan``: not known yet)."""

    hr: float
    rmssd: float
    eda_location: float
    eda_spread: float
    ppg_amp: float


def _finite(values: np.ndarray) -> np.ndarray:
    return values[np.isfinite(values)]


def _median(values: np.ndarray) -> float:
    v = _finite(values)
    return float(np.median(v)) if v.size else float("nan")


def _quantile(values: deque[float], q: float) -> float:
    v = _finite(np.fromiter(values, dtype=np.float64))
    return float(np.percentile(v, q)) if v.size else float("nan")


class SubjectBaseline:
    """The running baseline of one subject: the last ``windows`` windows' measures.

    :meth:`update` adds a window and returns the reference it is measured against (quantiles and the
    EDA spread over the stored windows, the new one included). The EDA spread is the interquartile
    range of the stored step levels plus the median within-window 5-95 % range: the first grows with
    slow changes and episodes, the second with the person's skin-conductance responses, so neither
    a very stable nor a very reactive skin makes it vanish. Feed it every window of the subject,
    in time order; the history survives gaps in the data (it is the same person).
    """

    def __init__(self, windows: int = HISTORY_WINDOWS) -> None:
        if windows < 1:
            raise ValueError(f"windows must be >= 1, got {windows}")
        self._hr: deque[float] = deque(maxlen=windows)
        self._rmssd: deque[float] = deque(maxlen=windows)
        self._ppg: deque[float] = deque(maxlen=windows)
        self._range: deque[float] = deque(maxlen=windows)
        self._levels: deque[np.ndarray] = deque(maxlen=windows)
        self.windows_seen = 0

    def update(self, m: Measures) -> Reference:
        self._hr.append(_median(m.hr))
        self._rmssd.append(_median(m.rmssd))
        self._ppg.append(_median(m.ppg_amp))
        self._range.append(m.eda_range)
        self._levels.append(_finite(m.eda_level))
        self.windows_seen += 1
        levels = np.concatenate(self._levels)
        if levels.size:
            q25, q75 = np.percentile(levels, [CALM_QUANTILE, 100 - CALM_QUANTILE])
            spread = float(q75 - q25) + _quantile(self._range, 50)
            location = float(q25)
        else:
            spread = location = float("nan")
        return Reference(
            hr=_quantile(self._hr, CALM_QUANTILE),
            rmssd=_quantile(self._rmssd, 50),
            eda_location=location,
            eda_spread=spread,
            ppg_amp=_quantile(self._ppg, 100 - CALM_QUANTILE),
        )


# -- measures ---------------------------------------------------------------------------------------


def _resample_rows(x: np.ndarray, fs_in: float, fs_out: float) -> np.ndarray:
    """:func:`resample` of each row of ``(k, n)`` (time along the rows), rows contiguous: numpy then
    reduces each row as it reduces a 1-D array (pairwise), which a column-major result would not.

    Each row's median is taken off before and put back after: the polyphase filter pads the row with
    zeros and its phases' gains differ from 1 in the third decimal, so an offset thousands of times
    the signal (a raw ADC channel) would otherwise ring at the edges and at the new rate.
    """
    rows = np.asarray(x, dtype=np.float64)
    if abs(fs_in - fs_out) < 1e-9 or rows.shape[-1] == 0:
        return np.array(rows, order="C")
    centre = np.median(rows, axis=-1, keepdims=True)
    return np.ascontiguousarray(resample((rows - centre).T, fs_in, fs_out).T) + centre


def _highpass(x: np.ndarray, fs: float, cutoff: float, order: int = 1) -> np.ndarray:
    """Zero-phase Butterworth high-pass of each row; rows too short for it only lose their mean."""
    if x.shape[-1] < 4 * int(fs / cutoff):
        return x - np.mean(x, axis=-1, keepdims=True)
    return zero_phase(np.ascontiguousarray(x, dtype=np.float64), order, cutoff, "highpass", fs)


def normalised_ecg(e: np.ndarray) -> np.ndarray:
    """Rows of a high-passed ECG scaled so their R waves are :data:`ECG_NOMINAL` tall (a flat row stays 0)."""
    height = np.percentile(np.abs(e), ECG_HEIGHT_PERCENTILE, axis=-1, keepdims=True)
    return np.divide(e * ECG_NOMINAL, height, out=np.zeros_like(e), where=height > 0)


def _rr_steps(peaks_s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Heart rate, RMSSD and SDNN of each step, over the beats within half a step either side."""
    hr, rmssd, sdnn = (np.full(STEPS, np.nan) for _ in range(3))
    for k in range(STEPS):
        lo, hi = (k - 0.5) * STEP_S, (k + 1.5) * STEP_S
        sel = peaks_s[(peaks_s >= lo) & (peaks_s < hi)]
        rr = np.diff(sel)
        rr = rr[(rr > 0.27) & (rr < 2.0)]
        if rr.size >= 2:
            hr[k] = 60.0 / float(np.mean(rr))
            rmssd[k] = float(np.sqrt(np.mean(np.diff(rr) ** 2)))
            sdnn[k] = float(np.std(rr))
    return hr, rmssd, sdnn


def _steps(x: np.ndarray, fs: float) -> np.ndarray:
    """``(k, STEPS, per_step)`` view of the complete steps of rows ``x``, ``nan``-padded where rows end early."""
    per = int(STEP_S * fs)
    out = np.full((x.shape[0], STEPS, per), np.nan)
    have = min(STEPS, x.shape[1] // per)
    out[:, :have] = x[:, : have * per].reshape(x.shape[0], have, per)
    return out


def _slopes(steps: np.ndarray, fs: float) -> np.ndarray:
    """Least-squares slope (per s) of each step (``nan`` for missing ones)."""
    t = np.arange(steps.shape[-1]) / fs
    tc = t - t.mean()
    return np.asarray(np.sum((steps - steps.mean(axis=-1, keepdims=True)) * tc, axis=-1) / np.sum(tc**2))


def window_measures_many(
    ecg: np.ndarray, ecg_fs: float, eda: np.ndarray, eda_fs: float, ppg: np.ndarray, ppg_fs: float
) -> list[Measures]:
    """:class:`Measures` of many windows at once: each signal ``(k, n)`` (equal lengths per signal).
    Resampling, filtering and the R-peak search run once for all rows; each row's measures are
    exactly those of the row alone."""
    e = _resample_rows(ecg, ecg_fs, ECG_FS)
    d = _resample_rows(eda, eda_fs, EDA_FS)
    p = _resample_rows(ppg, ppg_fs, PPG_FS)
    k = e.shape[0]
    r_peaks = detect_r_peaks_many(normalised_ecg(_highpass(e, ECG_FS, 0.5, order=2)), ECG_FS)
    phasic = _highpass(d, EDA_FS, 0.05)
    p_ac = _highpass(p, PPG_FS, 0.5)
    eda_steps = _steps(d, EDA_FS)
    with np.errstate(invalid="ignore"):
        level = eda_steps.mean(axis=-1)
        slope = _slopes(eda_steps, EDA_FS)
        phasic_sd = _steps(phasic, EDA_FS).std(axis=-1)
    eda_range = (np.diff(np.percentile(d, [5, 95], axis=-1), axis=0)[0] if d.shape[1] >= 2 else np.full(k, np.nan))
    ppg_steps = _steps(p_ac, PPG_FS)
    amp = np.full((k, STEPS), np.nan)
    rate = np.full((k, STEPS), np.nan)
    complete = ~np.isnan(ppg_steps[:, :, -1])
    if complete.any():
        p95, p5 = np.percentile(ppg_steps[complete], [95, 5], axis=-1)
        amp[complete] = p95 - p5
    for i, j in zip(*np.nonzero(complete), strict=True):
        beats = find_peaks(ppg_steps[i, j], distance=int(0.3 * PPG_FS), prominence=0.3 * amp[i, j] + 1e-300)[0]
        if beats.size >= 2 and amp[i, j] > 0:
            rate[i, j] = 60.0 * PPG_FS / float(np.median(np.diff(beats)))
    out = []
    for i in range(k):
        hr, rmssd, sdnn = _rr_steps(r_peaks[i] / ECG_FS)
        out.append(Measures(hr, rmssd, sdnn, level[i], slope[i], phasic_sd[i], amp[i], rate[i],
                            float(eda_range[i]), phasic[i]))
    return out


# -- features ---------------------------------------------------------------------------------------


def _ratio_log(x: np.ndarray, ref: float) -> np.ndarray:
    ok = np.isfinite(x) & (x > 0) & (ref > 0)
    return np.log(np.divide(x, ref, out=np.ones_like(x), where=ok), out=np.zeros_like(x), where=ok)


def _relative(x: np.ndarray, location: float, spread: float) -> np.ndarray:
    if not (np.isfinite(spread) and spread > 0 and np.isfinite(location)):
        return np.zeros_like(x)
    return np.nan_to_num((x - location) / spread, nan=0.0)


def features(m: Measures, ref: Reference) -> np.ndarray:
    """``(STEPS, FEATURES)`` float32: the window's measures against the subject's reference."""
    out = np.zeros((STEPS, FEATURES), dtype=np.float64)
    out[:, 0] = np.nan_to_num(m.hr) / 100.0
    out[:, 1] = np.nan_to_num(m.rmssd) * 10.0
    out[:, 2] = np.nan_to_num(m.sdnn) * 10.0
    out[:, 3] = np.nan_to_num((m.hr - ref.hr) / 10.0) if np.isfinite(ref.hr) else 0.0
    out[:, 4] = _ratio_log(m.rmssd, ref.rmssd)
    out[:, 5] = _relative(m.eda_level, ref.eda_location, ref.eda_spread)
    out[:, 6] = _relative(m.eda_slope * STEP_S, 0.0, ref.eda_spread)
    out[:, 7] = _relative(m.eda_phasic_sd, 0.0, ref.eda_spread)
    if np.isfinite(ref.eda_spread) and ref.eda_spread > 0:
        per = int(STEP_S * EDA_FS)
        for k in range(min(STEPS, m.phasic.size // per)):
            step = m.phasic[k * per : (k + 1) * per]
            out[k, 8] = len(find_peaks(step, prominence=SCR_PROMINENCE * ref.eda_spread)[0]) / 3.0
    out[:, 9] = _ratio_log(m.ppg_amp, ref.ppg_amp)
    out[:, 10] = np.nan_to_num(m.ppg_rate) / 100.0
    return np.clip(out, -CLIP, CLIP).astype(np.float32)


def window_features_many(
    ecg: np.ndarray, ecg_fs: float, eda: np.ndarray, eda_fs: float, ppg: np.ndarray, ppg_fs: float,
    baselines: Sequence[SubjectBaseline],
) -> np.ndarray:
    """``(k, STEPS, FEATURES)`` for ``k`` windows (each signal ``(k, n)``), row ``i`` against
    ``baselines[i]``, which it updates (rows of one subject must be in time order)."""
    measures = window_measures_many(ecg, ecg_fs, eda, eda_fs, ppg, ppg_fs)
    if len(baselines) != len(measures):
        raise ValueError(f"{len(measures)} windows but {len(baselines)} baselines")
    out = np.zeros((len(measures), STEPS, FEATURES), dtype=np.float32)
    for i, (m, baseline) in enumerate(zip(measures, baselines, strict=True)):
        out[i] = features(m, baseline.update(m))
    return out


def window_features(
    ecg: np.ndarray, ecg_fs: float, eda: np.ndarray, eda_fs: float, ppg: np.ndarray, ppg_fs: float,
    baseline: SubjectBaseline | None = None,
) -> np.ndarray:
    """``(STEPS, FEATURES)`` float32 for one window (each signal covering :data:`WINDOW_S`), against
    ``baseline`` (updated), or against itself alone when none is given."""
    rows = [np.asarray(x, dtype=np.float64).ravel()[None, :] for x in (ecg, eda, ppg)]
    return window_features_many(rows[0], ecg_fs, rows[1], eda_fs, rows[2], ppg_fs,
                                [baseline if baseline is not None else SubjectBaseline()])[0]


def emotion_windows(
    signals: dict[str, np.ndarray], rates: dict[str, float], hop_s: float = HOP_S,
    baseline: SubjectBaseline | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``(features (k, STEPS, FEATURES), start times in s)`` of one subject's recording with ``ecg``,
    ``eda``, ``ppg``: every window from the start, each against the baseline of the windows before it
    (a fresh :class:`SubjectBaseline` unless one is given), as an edge node computes them."""
    dur = min(len(signals[s]) / rates[s] for s in ("ecg", "eda", "ppg"))
    starts = np.arange(0.0, dur - WINDOW_S + 1e-9, hop_s)
    if not len(starts):
        return np.zeros((0, STEPS, FEATURES), dtype=np.float32), starts
    cut = {
        s: np.stack([np.asarray(signals[s], dtype=np.float64).ravel()[int(t0 * rates[s]) : int(t0 * rates[s])
                                                                      + int(WINDOW_S * rates[s])]
                     for t0 in starts])
        for s in ("ecg", "eda", "ppg")
    }
    measures = window_measures_many(cut["ecg"], rates["ecg"], cut["eda"], rates["eda"], cut["ppg"], rates["ppg"])
    base = baseline if baseline is not None else SubjectBaseline()
    return np.stack([features(m, base.update(m)) for m in measures]), starts
