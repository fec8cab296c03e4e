"""Baseline steps: a level change of the front end that no heart makes, removed before conditioning.

An ECG amplifier can jump its baseline in one sample (an electrode pop, a gain or offset reset): ISHNE
ECG_P28.01 (1 kHz) has lead II jump 0.72 mV between two samples and stay there, in 10 of its 12 leads
at once. Band-passed for the R-peak search, such a step rings like a QRS of about its height, and the
detector (and five of nine peer detectors) took it for a beat. A heart cannot make it:

* **Too fast.** The steepest ventricular activation on the surface ECG is the R upstroke of a narrow
  QRS: at most ~3 mV (a tall precordial R) in no less than ~10 ms (the whole QRS lasts >= 60-80 ms),
  i.e. up to ~300 mV/s, usually tens to 200. Measured at each record's own rate on the 39 real leads of
  the R-peak validation, no sample-to-sample change within 60 ms of a detected beat exceeds 308 mV/s
  (pysiology's 1 kHz Holter; MIT-BIH <= 230, the rest <= 160). :data:`STEP_SLEW_MV_S` is 400 mV/s, 1.3
  times both figures; ISHNE's step is 715. The simulator's records at 500-4000 Hz reach 318-693 mV/s only
  through its white noise, which the next test rules out.
* **In one sample.** A QRS deflection is smooth at the millisecond scale: the samples either side of its
  steepest one change nearly as fast (on the real beats at >= 500 Hz the steepest change is at most 2.3
  times the largest other within :data:`STEP_NEAR_S`). A step's jump is :data:`STEP_ISOLATION` (4) times
  that or more (ISHNE: 9-48 times in the leads that show it).
* **It stays.** The median level over the :data:`STEP_LEVEL_S` after it differs from the one before it
  by at least :data:`STEP_STAYS` of the jump, same sign. A pacemaker spike (0.5-2 ms, several mV, far
  faster than any QRS) and a spike of noise go up and come back: they are not steps, and a paced beat
  keeps its spike and its QRS (the module tests hold both; the simulator's paced patients at 500-4000 Hz
  give no step).

The test needs a sample short against the fastest QRS upstroke: at rates below :data:`STEP_MIN_RATE_HZ`
(one sample > 2 ms, a fifth of a 10 ms upstroke) a sharp QRS crosses most of its height in one or two
samples, and nothing is done. Where all three hold, the jump is removed (every later sample is moved
back by it): the step's ringing is gone, and a real beat next to it is kept, which dropping detections
in a window around the step would not do. Of the 39 real leads only ISHNE's step at 2.101 s meets all
three (in lead II, and in two more of that record's 12 leads; its smaller copies in six others, 0.18-0.39
mV, stay under the slope bound and are left alone); no sample of any other lead does
(``models/ecg/report/rpeaks_review.md``).

The shared conditioning (:func:`models.preprocessing.beats.condition_many`) runs this on the record at
its own rate, before resampling; the edge, which resamples a device's span before conditioning it,
runs it on the raw span at the device's rate (:mod:`edge.ecg_pipeline`).
"""

from __future__ import annotations

import numpy as np

#: Sample-to-sample change (mV/s) above which no QRS rises or falls (see the module docstring).
STEP_SLEW_MV_S = 400.0
#: How many times the largest other sample-to-sample change within STEP_NEAR_S either side the jump must be.
STEP_ISOLATION = 4.0
STEP_NEAR_S = 0.005
#: Share of the jump by which the median level after it (over STEP_LEVEL_S) must differ from the one before.
STEP_STAYS = 0.5
STEP_LEVEL_S = 0.02
#: Rates below this cannot tell a step from a sharp QRS in one sample.
STEP_MIN_RATE_HZ = 500.0


def find_steps_many(x: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """``(row, column)`` of the baseline steps in the rows of ``x`` (``(k, n)``, mV, at ``fs``): a step at
    column ``i`` is the jump from sample ``i`` to sample ``i + 1``. Empty below :data:`STEP_MIN_RATE_HZ`."""
    a = np.asarray(x, dtype=np.float64)
    none = np.zeros(0, dtype=np.int64)
    if fs < STEP_MIN_RATE_HZ or a.ndim != 2 or a.shape[1] < 2:
        return none, none
    near = max(1, round(STEP_NEAR_S * fs))
    level = max(2, round(STEP_LEVEL_S * fs))
    d = np.diff(a, axis=1)
    rows, cols = np.nonzero(np.abs(d) * fs >= STEP_SLEW_MV_S)  # rare: a handful per record at most
    inside = (cols >= level - 1) & (cols + level < a.shape[1])
    rows, cols = rows[inside], cols[inside]
    keep = np.zeros(rows.size, dtype=bool)
    for j, (r, i) in enumerate(zip(rows.tolist(), cols.tolist(), strict=True)):
        jump = d[r, i]
        others = np.abs(np.r_[d[r, max(i - near, 0) : i], d[r, i + 1 : i + 1 + near]])
        stays = (np.median(a[r, i + 1 : i + 1 + level]) - np.median(a[r, i - level + 1 : i + 1])) / jump
        keep[j] = abs(jump) >= STEP_ISOLATION * float(np.max(others)) and stays >= STEP_STAYS
    return rows[keep].astype(np.int64), cols[keep].astype(np.int64)


def remove_steps_many(x: np.ndarray, fs: float) -> np.ndarray:
    """The rows of ``x`` (``(k, n)``, mV, at ``fs``) with every baseline step of :func:`find_steps_many`
    taken out: the samples after it moved back by its jump less the mean change of the samples either side
    (the signal's own slope there carries on); ``x`` itself when there is none."""
    rows, cols = find_steps_many(x, fs)
    if rows.size == 0:
        return np.asarray(x)
    out = np.array(x, dtype=np.float64)
    near = max(1, round(STEP_NEAR_S * fs))
    for r, i in zip(rows.tolist(), cols.tolist(), strict=True):
        d = np.diff(out[r, max(i - near, 0) : i + 2 + near])
        at = i - max(i - near, 0)
        out[r, i + 1 :] -= d[at] - float(np.mean(np.r_[d[:at], d[at + 1 :]]))
    return out
