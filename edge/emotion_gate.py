"""Whether an emotion band's window is analysed, and the "not analysed" verdict reported on change only.

A band must send ECG, EDA and PPG. One that never sends a channel, or stops sending one, or sends one
that is flat or clipped (:func:`models.preprocessing.emotion_quality.input_problem`), is not run
through the model: the node says why once ("emotion not analysed: no PPG") when the verdict appears,
and once more when the band is analysed again, rather than on every window or not at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from edge.buffers import RingBuffer
from models.preprocessing.emotion import WINDOW_S
from models.preprocessing.emotion_quality import CHANNELS, NotAnalysed, input_problem

WINDOW_US = round(WINDOW_S * 1e6)


def missing_channel(buffers: Mapping[str, RingBuffer], end_us: int) -> NotAnalysed | None:
    """The first needed channel (PPG, EDA, ECG) that never arrived, or whose newest sample is a whole
    window older than ``end_us`` (it stopped). A channel refilling after a sequence gap is not missing."""
    for channel in CHANNELS:
        buf = buffers.get(channel)
        if buf is None or buf.t_last_us <= end_us - WINDOW_US:
            return NotAnalysed(channel, "missing")
    return None


def complete(buffers: Mapping[str, RingBuffer]) -> bool:
    """Whether every needed channel holds a whole window (after a gap one refills before it counts)."""
    return all((buf := buffers.get(c)) is not None and buf.filled == buf.capacity for c in CHANNELS)


def window_problem(samples: Mapping[str, np.ndarray]) -> NotAnalysed | None:
    """:func:`~models.preprocessing.emotion_quality.input_problem` of one window's ``ecg``/``eda``/``ppg``."""
    return input_problem(samples.get("ecg"), samples.get("eda"), samples.get("ppg"))


@dataclass
class Verdicts:
    """The last verdict reported for one band."""

    last: NotAnalysed | None = None
    #: a problem has been reported since the band was first seen (a recovery is then worth saying)
    reported: bool = False

    def update(self, verdict: NotAnalysed | None) -> tuple[bool, NotAnalysed | None]:
        """Record ``verdict``; ``(report it?, verdict)``: a new problem, another problem, or the end of one."""
        if verdict == self.last:
            return False, verdict
        self.last = verdict
        if verdict is not None:
            self.reported = True
            return True, verdict
        return self.reported, None
