"""Vitals-risk-model input: the last five minutes of vitals readings as ten 30-second steps.

Readings (any rate, gaps allowed) are given as times and a ``(n, 8)`` array in the order of
:data:`iomt.wire.vitals.FIELDS`, ``NaN`` where a reading lacked a value. Each step is the
per-field median of the readings in it (robust to a single artefact such as a heart rate read off
a run of ectopic beats); a step without readings takes the previous step's values, and leading
empty steps take the first filled one's measured vitals (but not its oxygen or consciousness:
before they were first charted they count as air and alert). Then each step becomes
:data:`FEATURES` numbers: the six measured vitals centred and scaled by fixed constants, and two
flags NEWS2 needs, on oxygen (``o2`` > 0) and not alert (``acvpu`` code >= 1). A missing ``o2``
means air, a missing ``acvpu`` alert (not assessed); a window in which a measured vital has no
reading at all is not scored (``None``).

:func:`window` cuts one window; :func:`windows` many of one patient (training), row-identical.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from iomt.wire.vitals import FIELDS

WINDOW_S = 300.0
STEPS = 10
STEP_S = WINDOW_S / STEPS
#: The edge scores each patient once per this many seconds of readings.
HOP_S = 60.0
MEASURED = 6
FEATURES = 8
FEATURE_NAMES = ("hr", "spo2", "bp_sys", "bp_dia", "temp_c", "resp_rate", "on_oxygen", "not_alert")
#: (value - CENTER) / SCALE for the six measured vitals.
CENTER = np.array([80.0, 94.0, 120.0, 70.0, 37.0, 18.0])
SCALE = np.array([40.0, 6.0, 40.0, 20.0, 1.5, 8.0])
CLIP = 8.0
_O2 = FIELDS.index("o2")
_ACVPU = FIELDS.index("acvpu")


def _step_medians(block: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``(STEPS, columns)`` per-step, per-column medians of the rows of ``block`` that are not NaN
    (NaN where a step has none in a column); ``counts[k]`` consecutive rows belong to step ``k``.

    All steps at once: each step's rows go into a slab padded with +inf (as NaN entries are), one sort
    orders every step's column, and each median is the mean of the two middle valid entries — the
    same two numbers a per-step sort picks, so the same value to the bit."""
    columns = block.shape[1]
    widest = int(counts.max()) if len(counts) else 0
    if widest == 0:
        return np.full((len(counts), columns), np.nan)
    step = np.repeat(np.arange(len(counts)), counts)
    position = np.arange(len(block)) - np.repeat(np.cumsum(counts) - counts, counts)
    slab = np.full((len(counts), widest, columns), np.inf)
    slab[step, position] = np.where(np.isnan(block), np.inf, block)
    slab.sort(axis=1)
    valid = np.zeros((len(counts), widest, columns), bool)
    valid[step, position] = ~np.isnan(block)
    count = valid.sum(axis=1)
    lo = np.maximum((count - 1) // 2, 0)[:, None, :]
    hi = np.maximum(count // 2, 0)[:, None, :]
    med = 0.5 * (np.take_along_axis(slab, lo, axis=1)[:, 0] + np.take_along_axis(slab, hi, axis=1)[:, 0])
    return np.where(count > 0, med, np.nan)


def step_values(t_s: np.ndarray, values: np.ndarray, t_end: float) -> np.ndarray:
    """``(STEPS, 8)`` raw step medians of the readings in ``(t_end - WINDOW_S, t_end]``, gaps filled."""
    t_s = np.asarray(t_s, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64).reshape(len(t_s), len(FIELDS))
    edges = t_end - WINDOW_S + STEP_S * np.arange(STEPS + 1)
    bounds = np.searchsorted(t_s, edges, side="right")
    steps = _step_medians(values[bounds[0]:bounds[-1]], np.diff(bounds))
    filled = ~np.isnan(steps)
    cols = np.arange(steps.shape[1])
    # forward fill: each step from the last filled step at or before it (NaN before the first)
    steps = steps[np.maximum.accumulate(np.where(filled, np.arange(STEPS)[:, None], 0), axis=0), cols]
    # leading gaps of the measured vitals from the first filled step
    first = steps[filled.argmax(axis=0), cols]
    lead = np.isnan(steps)
    lead[:, MEASURED:] = False
    return np.where(lead, first, steps)


def features(steps: np.ndarray) -> np.ndarray | None:
    """Model input ``(STEPS, FEATURES)`` float32 from raw step values, or None when a measured vital
    has no value in the whole window."""
    if np.isnan(steps[:, :MEASURED]).any():
        return None
    out = np.empty((STEPS, FEATURES), dtype=np.float64)
    out[:, :MEASURED] = np.clip((steps[:, :MEASURED] - CENTER) / SCALE, -CLIP, CLIP)
    out[:, MEASURED] = steps[:, _O2] > 0  # NaN (never charted): air
    out[:, MEASURED + 1] = steps[:, _ACVPU] >= 0.5  # NaN (never assessed): alert
    return out.astype(np.float32)


def window(t_s: np.ndarray, values: np.ndarray, t_end: float) -> np.ndarray | None:
    """The model input for the window ending at ``t_end`` (readings sorted by time), or None."""
    return features(step_values(t_s, values, t_end))


def windows(
    t_s: np.ndarray, values: np.ndarray, t_ends: Sequence[float] | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Windows of one patient ending at each of ``t_ends``: ``(k, STEPS, FEATURES)`` and the ends kept
    (those :func:`window` does not refuse), each row exactly :func:`window`'s."""
    kept: list[np.ndarray] = []
    ends: list[float] = []
    for t_end in t_ends:
        w = window(t_s, values, float(t_end))
        if w is not None:
            kept.append(w)
            ends.append(float(t_end))
    if not kept:
        return np.zeros((0, STEPS, FEATURES), np.float32), np.zeros(0)
    return np.stack(kept), np.asarray(ends)
