"""Filter designs shared by the preprocessing, designed once and cached.

Designing a Butterworth filter costs more than applying it to seconds of signal, and the edge
applies the same few filters thousands of times a second; the coefficients are identical either
way, so caching changes no output.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.signal import butter


@lru_cache(maxsize=128)
def butter_sos(order: int, cutoff: float | tuple[float, float], btype: str, fs: float) -> np.ndarray:
    """Second-order sections of a digital Butterworth filter.

    The array is shared by every caller: treat it as read-only (scipy's filters need it writable,
    so it cannot be flagged so).
    """
    return np.asarray(butter(order, cutoff, btype=btype, fs=fs, output="sos"))
