"""Augmentation of simulated emotion-band recordings before they are windowed for training.

The emotion features are unit-free (:mod:`models.preprocessing.emotion` 2.x): a gain or an offset of
a channel cancels in them, so what is left to teach the model is what *comes with* real units:

* **gain, offset and ADC resolution** per channel: each channel is scaled (ECG x0.05-20, EDA and PPG
  x0.01-100), shifted (up to ten times its own span, as a raw ADC channel sits far from zero) and
  rounded to the step of an 8-, 10-, 12- or 16-bit converter spanning 1.5 times the recording (or
  left unrounded). An 8-bit PPG (0-255, like systole's) has visible stairs that a gain never makes;
* **pulse amplitude that drifts for no emotional reason**: a real PPG's pulse height follows contact
  pressure, posture and skin temperature as much as vasoconstriction (heartpy's data3 loses half of it
  over ten quiet minutes), so each PPG is multiplied by a slow random gain (a sum of sinusoids with
  periods of 2-15 minutes, log-amplitude sd :data:`PPG_DRIFT_SD`): the model may not call stress from
  a narrowing pulse alone, only with what heart rate and EDA say;
* **where the baseline starts**: half of the recordings lose a random first stretch (up to half the
  recording), so the subject's running baseline starts inside stress or amusement as often as it
  does on a real device switched on at any moment, not always in the protocol's calm opening.

Every draw comes from the subject's own generator (its name), so a dataset rebuilds identically.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

#: (lowest, highest) gain per channel, drawn log-uniformly.
GAINS = {"ecg": (0.05, 20.0), "eda": (0.01, 100.0), "ppg": (0.01, 100.0)}
#: An offset of up to this many times the channel's span (either sign).
OFFSET_SPANS = 10.0
#: Converter resolutions drawn from (None: not rounded).
ADC_BITS: tuple[int | None, ...] = (8, 10, 12, 16, None)
#: Standard deviation of the PPG's slow log-gain drift, and the periods (s) it is made of.
PPG_DRIFT_SD = 0.3
PPG_DRIFT_PERIODS_S = (120.0, 900.0)
#: Share of recordings whose first stretch is cut, and the longest cut (share of the recording).
CUT_SHARE = 0.5
MAX_CUT = 0.5

SETTINGS = {"gains": {k: list(v) for k, v in GAINS.items()}, "offset_spans": OFFSET_SPANS,
            "adc_bits": [b or "none" for b in ADC_BITS], "ppg_drift_sd": PPG_DRIFT_SD,
            "ppg_drift_periods_s": list(PPG_DRIFT_PERIODS_S), "cut_share": CUT_SHARE, "max_cut": MAX_CUT}


@dataclass
class Augmented:
    """A recording as :func:`cloud.labels.emotion_examples` reads it (``RecordingLike``)."""

    subject: str
    kind: str
    rates: dict[str, float]
    signals: dict[str, np.ndarray]
    truth: tuple[Any, ...]


@dataclass(frozen=True)
class _Shifted:
    t_s: float
    t_end_s: float
    label: str
    kind: str


def channel(x: np.ndarray, rng: np.random.Generator, gain_range: tuple[float, float]) -> np.ndarray:
    """One channel with a random gain, offset and converter resolution."""
    lo, hi = np.log10(gain_range[0]), np.log10(gain_range[1])
    y = np.asarray(x, dtype=np.float64) * 10.0 ** rng.uniform(lo, hi)
    span = float(np.ptp(y)) if y.size else 0.0
    y = y + rng.uniform(-OFFSET_SPANS, OFFSET_SPANS) * span
    bits = ADC_BITS[int(rng.integers(len(ADC_BITS)))]
    if bits is not None and span > 0:
        step = 1.5 * span / 2**bits
        y = np.round(y / step) * step
    return y


def drift(n: int, fs: float, rng: np.random.Generator) -> np.ndarray:
    """A slow random gain ``exp(g)`` for ``n`` samples at ``fs``: ``g`` a sum of four sinusoids of random
    periods in :data:`PPG_DRIFT_PERIODS_S` and phases, scaled to sd :data:`PPG_DRIFT_SD`."""
    t = np.arange(n) / fs
    shortest, longest = np.log(PPG_DRIFT_PERIODS_S)
    periods = np.exp(rng.uniform(shortest, longest, size=4))
    g = np.sum([np.sin(2 * np.pi * t / p + rng.uniform(0, 2 * np.pi)) for p in periods], axis=0)
    return np.asarray(np.exp(PPG_DRIFT_SD * g / np.sqrt(2.0)))  # four unit sinusoids: sd sqrt(2)


def augment(rec: Any) -> Augmented:
    """``rec`` (an emotion recording) with its channels and start augmented; truth shifted with the cut."""
    rng = np.random.default_rng([zlib.crc32(f"emotion-augment/{rec.subject}".encode())])
    seconds = min(len(rec.signals[s]) / rec.rates[s] for s in rec.signals)
    cut = float(rng.uniform(0.0, MAX_CUT * seconds)) if rng.random() < CUT_SHARE else 0.0
    signals = {}
    for stream, x in rec.signals.items():
        start = round(cut * rec.rates[stream])
        kept = np.asarray(x, dtype=np.float64)[start:]
        if stream == "ppg":
            kept = kept * drift(len(kept), rec.rates[stream], rng).reshape(-1, *([1] * (kept.ndim - 1)))
        signals[stream] = (channel(kept, rng, GAINS[stream]).astype(np.float32) if stream in GAINS
                           else kept.astype(np.float32))
    truth = tuple(_Shifted(max(a.t_s - cut, 0.0), a.t_end_s - cut, a.label, a.kind) for a in rec.truth
                  if a.t_end_s > cut)
    return Augmented(rec.subject, rec.kind, dict(rec.rates), signals, truth)
