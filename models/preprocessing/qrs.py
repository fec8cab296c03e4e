"""QRS detection that sees wide and ectopic beats: the R-peak search behind
:func:`models.preprocessing.ecg.detect_r_peaks_many`.

Version 1.0.0 thresholded the squared slope of the 5-20 Hz band at 30 % of its 98th percentile over
the whole span. On real recordings that threshold was set by the tallest beats: a ventricular beat
three times taller than its neighbours has nine times their energy, so the neighbours (and, where the
normal beats were the tall ones, the wide low-slope ventricular beats) fell under it. This search
decides locally and in proportion to amplitude:

1. *Slope envelope* ``g``: the absolute slope of the 5-20 Hz band, averaged over 0.1 s (linear in
   amplitude: a beat five times taller scores five times more, not twenty-five).
2. *QRS regions*: where ``g`` exceeds :data:`REGION_FACTOR` times its own 0.75 s moving average (the
   beat against its own surroundings, whatever its size) or :data:`NEAR_MAX` of its 2 s moving maximum
   (in ventricular tachycardia wide beats fill the whole cycle, so the slope never stands out from
   its average), and in both cases :data:`FLOOR_OF_MAX` of that maximum; a region of at least 20 ms
   gives one candidate at its ``g`` maximum.
3. *Refractory*: of candidates closer than :data:`REFRACTORY_S`, the larger.
4. *Not a QRS*: a candidate whose 5-20 Hz content is small against its 1-5 Hz content
   (:data:`SMOOTH_RATIO`, a T wave, a P wave, baseline movement; narrow and wide QRS complexes alike
   score higher, see the module tests) is dropped when it is

   * a T wave: within :data:`T_WINDOW_S` of the candidate before it, with less than
     :data:`T_SLOPE_RATIO` of its slope, and either smaller than it (:data:`T_AMP_RATIO`) or much
     earlier than the rhythm allows (:data:`T_EARLY` of the interval between the two sharp beats
     before it) — a premature ventricular beat is as tall as the beat before it or taller, and
     comes later than that in its cycle;
   * a bump: less than :data:`BUMP_RATIO` of the mean amplitude of the sharp beats on either side;

   * a wave in the ST segment: nearly smooth (below :data:`NEAR_SMOOTH_RATIO`), within
     :data:`ST_T_S` of the sharp beat before it and :data:`ST_T_EARLY` of the interval between the
     two sharp beats before that, whatever its slope and height (a deep early T wave after a small
     QRS; a ventricular beat this soon would fall inside the previous beat's own repolarisation —
     simulated PVCs, as smooth, come 0.35 s after theirs at the earliest — and in a tachycardia,
     where beats do come this soon, they come as soon after each other, not at a quarter of the
     interval before);

   and a sharp candidate is dropped when it is less than :data:`SHARP_BUMP_RATIO` of the sharp beat
   before it, or less than :data:`EARLY_SPIKE_RATIO` of it and earlier than :data:`EARLY_SPIKE` of
   the interval before (a spike of noise in a pause, a P wave), or a *minor deflection*: below
   :data:`MINOR_RATIO` of the sharp beat before it in height and in slope alike and earlier than
   :data:`MINOR_EARLY` of the interval before, or below it against both sharp beats before it at
   any time (a P wave, a notch in the pause after a ventricular beat, a spike of noise; a real beat,
   supraventricular or ventricular, is as tall or as steep as its neighbours in at least one of the
   two, and the beat after a tall ventricular beat comes late but is like the beat before it).
   Only beats before it count: the edge decides on the newest beat before the next one exists. Any
   candidate below :data:`MIN_AMP_MV` peak to peak is dropped (noise on a flat line), and so is one
   *tiny against the rhythm* (1.2.0): below :data:`TINY_RATIO` of the upper quartile of the height and
   of the slope of the :data:`RECENT` sharp candidates before it (at least :data:`RECENT_MIN`). The
   rules above compare a candidate with the one or two sharp candidates just before it; in a long
   pause (second-degree AV block: aladin's STANFORD1 has 4 s without a QRS) those are the
   non-conducted P waves before it, each as small as the next, so P waves passed as beats. The upper
   quartile of eight is neither lowered by up to five such P waves nor raised by two tall ectopic
   beats or artefacts; the smallest real beats of the real recordings stand at 0.3 of it, the P waves
   at 0.05.
5. Each R-peak is placed on the largest deflection of the 5-20 Hz band within 80 ms.

Everything works on many rows at once (the edge searches a batch of devices per call), and each row's
result is the same as the row's alone.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import maximum_filter1d, uniform_filter1d
from scipy.signal import find_peaks

#: Shortest interval between two QRS complexes (300 bpm: ventricular tachycardia reaches 250).
REFRACTORY_S = 0.20
SMOOTH_S = 0.10
AVERAGE_S = 0.75
REGION_FACTOR = 1.5
FLOOR_OF_MAX = 0.08
NEAR_MAX = 0.5
MAX_WINDOW_S = 2.0
MIN_REGION_S = 0.02
SMOOTH_RATIO = 0.5
T_WINDOW_S = 0.45
T_SLOPE_RATIO = 0.6
T_AMP_RATIO = 0.9
T_EARLY = 0.45
BUMP_RATIO = 0.5
SHARP_BUMP_RATIO = 0.15
EARLY_SPIKE = 0.7
EARLY_SPIKE_RATIO = 0.35
MIN_AMP_MV = 0.05
#: 1.1.1: below this (and above SMOOTH_RATIO) a candidate is nearly smooth: a T wave if within ST_T_EARLY.
NEAR_SMOOTH_RATIO = 0.65
ST_T_EARLY = 0.3
ST_T_S = 0.26
#: 1.1.1: a sharp candidate this small against the beat before it, in height and slope, and this early, is
#: a P wave or noise (the real records of the R-peak validation that showed it: aladin A08391, CPSC A0009
#: V1, pecg A00001).
MINOR_RATIO = 0.4
MINOR_EARLY = 0.9
#: 1.2.0: a candidate below this share of the recent sharp candidates' height and slope is not a QRS.
TINY_RATIO = 0.12
RECENT = 8
RECENT_MIN = 3
RECENT_QUANTILE = 0.75
#: Half-widths (s) of the windows the candidate features are measured over.
HF_HALF_S, LF_HALF_S, AMP_HALF_S = 0.05, 0.10, 0.06


def qrs_candidates(x: np.ndarray, filtered: np.ndarray, fs: float, distance: int) -> tuple[np.ndarray, np.ndarray]:
    """``(row, column)`` of the QRS complexes in ``x`` (rows of a conditioned ECG in mV) given its 5-20 Hz
    band ``filtered``, sorted by row then column; ``distance``: the refractory period in samples."""
    k, n = x.shape
    g = uniform_filter1d(np.abs(np.gradient(filtered, axis=-1)), max(1, round(SMOOTH_S * fs)), axis=-1)
    average = uniform_filter1d(g, max(1, round(AVERAGE_S * fs)), axis=-1)
    ceiling = maximum_filter1d(g, max(1, round(MAX_WINDOW_S * fs)), axis=-1)
    mask = np.zeros((k, n + 1), dtype=bool)  # a False column ends every row's last region
    mask[:, :n] = ((g > REGION_FACTOR * average) | (g > NEAR_MAX * ceiling)) & (g > FLOOR_OF_MAX * ceiling)
    rows, cols = _region_maxima(mask, g, max(1, round(MIN_REGION_S * fs)))
    if rows.size == 0:
        return rows, cols
    rows, cols = _refractory(g, rows, cols, distance)
    keep = ~_not_qrs(x, filtered, g, rows, cols, fs)
    return rows[keep], cols[keep]


def _region_maxima(mask: np.ndarray, g: np.ndarray, min_len: int) -> tuple[np.ndarray, np.ndarray]:
    """``(row, column)`` of the ``g`` maximum of every run of True in ``mask`` (``(k, n + 1)``) of at least
    ``min_len`` samples."""
    k, width = mask.shape
    edges = np.diff(mask.ravel().astype(np.int8), prepend=0)
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    long = ends - starts >= min_len
    starts, ends = starts[long], ends[long]
    if starts.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    laid = np.zeros((k, width))
    laid[:, : width - 1] = g
    flat = laid.ravel()
    region = np.repeat(np.arange(starts.size), ends - starts)
    members = np.concatenate([np.arange(s, e) for s, e in zip(starts.tolist(), ends.tolist(), strict=True)])
    order = np.lexsort((-flat[members], region))  # per region, the largest first (the first of ties)
    first = np.flatnonzero(np.r_[True, region[order][1:] != region[order][:-1]])
    best = members[order][first]
    return best // width, best % width


def _refractory(g: np.ndarray, rows: np.ndarray, cols: np.ndarray, distance: int) -> tuple[np.ndarray, np.ndarray]:
    """Of candidates closer than ``distance`` in a row, the larger (``find_peaks``' rule), rows laid end
    to end ``distance`` zeros apart so that rows cannot suppress each other and a candidate on a row's
    first or last sample still counts."""
    k, n = g.shape
    stride = n + distance
    laid = np.zeros(k * stride + distance)  # every row has ``distance`` zeros before and after it
    laid[rows * stride + distance + cols] = g[rows, cols]
    flat, _ = find_peaks(laid, height=np.finfo(np.float64).tiny, distance=distance)
    return flat // stride, flat % stride - distance


def _window(a: np.ndarray, rows: np.ndarray, cols: np.ndarray, half: int) -> np.ndarray:
    idx = np.clip(cols[:, None] + np.arange(-half, half + 1), 0, a.shape[1] - 1)
    return np.asarray(a[rows[:, None], idx])


def _not_qrs(x: np.ndarray, filtered: np.ndarray, g: np.ndarray, rows: np.ndarray, cols: np.ndarray,
             fs: float) -> np.ndarray:
    """Which candidates (sorted by row, column) are T waves, bumps or noise rather than QRS complexes."""
    hf = np.sqrt(np.mean(_window(filtered, rows, cols, round(HF_HALF_S * fs)) ** 2, axis=1))
    lf = np.sqrt(np.mean(_window(x - filtered, rows, cols, round(LF_HALF_S * fs)) ** 2, axis=1))
    smooth = hf < SMOOTH_RATIO * lf
    near_smooth = hf < NEAR_SMOOTH_RATIO * lf
    amp = np.ptp(_window(x, rows, cols, round(AMP_HALF_S * fs)), axis=1)
    h = g[rows, cols]
    n = x.shape[1]
    pos = rows * (n + 1) + cols  # a single sorted axis over all rows

    after = np.r_[False, (rows[1:] == rows[:-1]) & (cols[1:] - cols[:-1] < T_WINDOW_S * fs)]
    weaker = np.r_[False, h[1:] < T_SLOPE_RATIO * h[:-1]]
    smaller = np.r_[False, amp[1:] < T_AMP_RATIO * amp[:-1]]
    t_like = smooth & after & weaker

    is_sharp = ~smooth & (amp >= MIN_AMP_MV)  # the reference beats: sharp, and not noise on a flat line
    sharp = pos[is_sharp]
    sharp_amp = amp[is_sharp]
    before = np.searchsorted(sharp, pos) - 1  # the last sharp candidate before each candidate
    nxt = np.searchsorted(sharp, pos, side="right")  # the first sharp one after it
    b1 = np.clip(before, 0, None)
    b0 = np.clip(before - 1, 0, None)
    nx = np.clip(nxt, 0, max(sharp.size - 1, 0))
    if sharp.size:
        same_prev = (before >= 0) & (sharp[b1] // (n + 1) == rows)
        same_prev2 = (before >= 1) & same_prev & (sharp[b0] // (n + 1) == rows)
        same_next = (nxt < sharp.size) & (sharp[nx] // (n + 1) == rows)
        interval = np.where(same_prev2, sharp[b1] - sharp[b0], 0)
        early = same_prev2 & (pos - sharp[b1] < T_EARLY * interval)
        count = same_prev.astype(np.float64) + same_next
        total = np.where(same_prev, sharp_amp[b1], 0.0) + np.where(same_next, sharp_amp[nx], 0.0)
        bump = smooth & (count > 0) & (amp * np.maximum(count, 1) < BUMP_RATIO * total)
        prev_amp = np.where(same_prev, sharp_amp[b1], 0.0)
        bump |= ~smooth & same_prev & (amp < SHARP_BUMP_RATIO * prev_amp)
        premature = same_prev2 & (pos - sharp[b1] < EARLY_SPIKE * interval)
        bump |= ~smooth & premature & (amp < EARLY_SPIKE_RATIO * prev_amp)
        prev_slope = np.where(same_prev, h[is_sharp][b1], 0.0)
        minor = same_prev2 & (pos - sharp[b1] < MINOR_EARLY * interval)
        bump |= ~smooth & minor & (amp < MINOR_RATIO * prev_amp) & (h < MINOR_RATIO * prev_slope)
        # whenever it comes: as small and as flat against *both* sharp beats before it (after a ventricular
        # beat the next sinus beat comes late, and a P wave or notch in that pause is not premature)
        prev2_amp = np.where(same_prev2, sharp_amp[b0], 0.0)
        prev2_slope = np.where(same_prev2, h[is_sharp][b0], 0.0)
        bump |= (~smooth & same_prev2 & (amp < MINOR_RATIO * np.minimum(prev_amp, prev2_amp))
                 & (h < MINOR_RATIO * np.minimum(prev_slope, prev2_slope)))
        behind = pos - sharp[b1]
        bump |= near_smooth & same_prev2 & (behind < ST_T_EARLY * interval) & (behind < ST_T_S * fs)
        recent = before[:, None] - np.arange(RECENT)[None, :]  # the RECENT sharp candidates before each one
        valid = (recent >= 0) & (sharp[np.clip(recent, 0, None)] // (n + 1) == rows[:, None])
        count = valid.sum(axis=1)
        typical_amp = _upper_quartile(sharp_amp, recent, valid, count)
        typical_slope = _upper_quartile(h[is_sharp], recent, valid, count)
        bump |= (count >= RECENT_MIN) & (amp < TINY_RATIO * typical_amp) & (h < TINY_RATIO * typical_slope)
    else:
        early = np.zeros(rows.size, dtype=bool)
        bump = np.zeros(rows.size, dtype=bool)
    return (t_like & (smaller | early)) | bump | (amp < MIN_AMP_MV)


def _upper_quartile(values: np.ndarray, idx: np.ndarray, valid: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Per row of ``idx`` (``(m, RECENT)`` indices into ``values``, ``valid`` where they count), the
    :data:`RECENT_QUANTILE` order statistic of the valid values (the ``floor(q * (count - 1))``-th
    smallest); 0 where none is valid."""
    ranked = np.sort(np.where(valid, values[np.clip(idx, 0, None)], np.inf), axis=1)
    at = np.clip(np.floor(RECENT_QUANTILE * (count - 1)).astype(np.int64), 0, idx.shape[1] - 1)
    return np.where(count > 0, ranked[np.arange(idx.shape[0]), at], 0.0)
