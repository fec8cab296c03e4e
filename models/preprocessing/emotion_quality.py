"""Whether an emotion window can be analysed at all: the rule, as pure functions over arrays.

The emotion model needs the band's ECG, EDA and PPG. A channel that never arrived, that is flat, or
(ECG, PPG) whose samples pile up at its extremes (a saturated front end, or a wire that clipped it)
makes the window unusable: the model is not run on it, and the reason is reported instead
(:class:`NotAnalysed`: "emotion not analysed: no PPG", "... PPG clipped"). Every test is unit-free,
like the features: a PPG in ADC counts and one in volts are judged alike.

Thresholds, measured on 60 s windows at the band's rates (PPG 64 Hz, ECG 250 Hz, EDA 4 Hz) after
replay's resampling (see :mod:`cloud.real_emotion`): clean real PPG and ECG (heartpy, systole,
biosppy, bioread, pysiology) and the simulator's have at most 0.7 % of their samples within
:data:`EXTREME_TOLERANCE` of the window's maximum or minimum. Real sensors touch their rails now and
then (systole's 8-bit PPG sits at 0 or 255 for up to 2.2 % of a minute, heartpy's data3 at 0 or 978
for up to 2.1 %) and their pulses still read; what is not analysed is a channel clipped for more than
:data:`CLIPPED_SHARE` of a window: heartpy's ``data2`` reads 0 for 12 % of its first minute (the
sensor dropped out), a PPG clipped at its 90th percentile has 10 %, one clipped by the 1.0.0 wire
(+-32.767) 88-100 %. The tolerance is wide enough that resampling's ripple on a clipped plateau stays
inside it (at 0.2 % of the span the dropout above measured 0.3 %). EDA moves slowly: a calm, finely
quantised EDA can sit near its maximum for a good share of a minute, so EDA is judged missing or flat
only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Channels the model needs, in the order they are judged (the first problem is the one reported).
CHANNELS = ("ppg", "eda", "ecg")
#: Channels checked for clipping.
PULSATILE = frozenset({"ppg", "ecg"})
#: "At an extreme": within this share of the window's span from its maximum or minimum.
EXTREME_TOLERANCE = 0.005
#: Clipped: more than this share of the samples at the maximum, or at the minimum.
CLIPPED_SHARE = 0.05
#: Flat: the span is at most this share of the largest magnitude (or zero).
FLAT_RELATIVE = 1e-6
_NAMES = {"ppg": "PPG", "eda": "EDA", "ecg": "ECG"}


@dataclass(frozen=True, slots=True)
class NotAnalysed:
    """Why a window was not analysed: ``channel`` (ecg, eda, ppg) is ``missing``, ``flat`` or ``clipped``."""

    channel: str
    problem: str

    @property
    def reason(self) -> str:
        """``no PPG``, ``PPG clipped``, ``EDA flat`` ..."""
        name = _NAMES[self.channel]
        return f"no {name}" if self.problem == "missing" else f"{name} {self.problem}"

    @property
    def message(self) -> str:
        return f"emotion not analysed: {self.reason}"

    @property
    def label(self) -> str:
        """Event label: ``no_ppg``, ``ppg_clipped``, ``eda_flat`` ..."""
        return f"no_{self.channel}" if self.problem == "missing" else f"{self.channel}_{self.problem}"


def channel_problem(channel: str, x: np.ndarray | None) -> str | None:
    """``missing``, ``flat``, ``clipped`` or ``None`` (usable) for one channel's window."""
    if x is None:
        return "missing"
    v = np.asarray(x, dtype=np.float64).ravel()
    if v.size < 2 or not np.isfinite(v).all():
        return "missing"
    hi, lo = float(v.max()), float(v.min())
    span = hi - lo
    if span <= FLAT_RELATIVE * max(abs(hi), abs(lo)) or span == 0.0:
        return "flat"
    if channel in PULSATILE:
        tol = EXTREME_TOLERANCE * span
        if max(float(np.mean(v >= hi - tol)), float(np.mean(v <= lo + tol))) > CLIPPED_SHARE:
            return "clipped"
    return None


def input_problem(ecg: np.ndarray | None, eda: np.ndarray | None, ppg: np.ndarray | None) -> NotAnalysed | None:
    """The first problem of a window's channels (PPG, then EDA, then ECG), or ``None`` when all are usable."""
    given = {"ecg": ecg, "eda": eda, "ppg": ppg}
    for channel in CHANNELS:
        problem = channel_problem(channel, given[channel])
        if problem is not None:
            return NotAnalysed(channel, problem)
    return None
