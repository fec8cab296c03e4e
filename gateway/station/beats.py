"""Beat labels for the review strip: the edge's ECG events, each beat placed at its R-peak.

An ECG inference event (model ``ecg``) carries the beats it classified in ``detail.beats`` as
``[index, label, score]``, ``index`` being the R-peak's sample on the model's 250 Hz axis, and its window
starts :data:`BEFORE_S` before the first beat's R-peak (the beat window of ``models.preprocessing.beats``:
60 samples before the peak at 250 Hz; not imported, as the gateway does not install scipy — a test holds the
two equal).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from iomt.wire.events import Event, EventKind

ECG_MODEL = "ecg"
#: The model's sample rate (Hz) and how long before the R-peak a beat window starts (s).
MODEL_RATE_HZ = 250.0
BEFORE_S = 60 / MODEL_RATE_HZ


@dataclass(frozen=True, slots=True)
class Beat:
    """One classified beat: its R-peak (µs), its AAMI class (N, S, V, F, Q) and the model's score."""

    t_us: int
    label: str
    score: float


def beats_of(events: Iterable[Event], start_us: int, end_us: int) -> list[Beat]:
    """The beats of ``events`` (ECG inference events) whose R-peak lies in ``[start_us, end_us]``, in time order."""
    out: dict[int, Beat] = {}
    for event in events:
        rows = event.detail.get("beats")
        if event.model != ECG_MODEL or event.kind != EventKind.INFERENCE or not isinstance(rows, list) or not rows:
            continue
        valid = [r for r in rows if isinstance(r, list) and len(r) == 3 and isinstance(r[0], int)
                 and isinstance(r[1], str) and isinstance(r[2], int | float)]
        if not valid:
            continue
        first = valid[0][0]
        r0_us = event.window_start_us + BEFORE_S * 1e6
        for index, label, score in valid:
            t = round(r0_us + (index - first) * 1e6 / MODEL_RATE_HZ)
            if start_us <= t <= end_us:
                out[t] = Beat(t, label, float(score))
    return [out[t] for t in sorted(out)]
