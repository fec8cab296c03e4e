"""Would a feature that tells a T wave or a notch from a QRS in principle remove the remaining extras?

``python -m cloud.real_ecg.extra_features`` measures four features on every detection the edge emits
(:func:`cloud.real_ecg.rpeaks.edge_emits`) on the real leads the floor applies to, and prints, for each
extra detection, its value and how many *matched* detections are at least as unlike a QRS: a threshold
that removes that extra removes those real beats too. The features, on the conditioned lead at 250 Hz:

* ``smooth``: RMS of the 5-20 Hz band within 50 ms over RMS of the 1-5 Hz rest within 100 ms (the
  search's own test; low is T-like);
* ``width_ms``: how long the 0.1 s slope envelope stays above half its peak around it (high is T-like);
* ``centroid_hz``: spectral centroid of the ±60 ms window (low is T-like);
* ``after_qt``: time after the detection before it over the QT Bazett's formula expects from the RR
  before that (QTc 0.40 s; low means inside the previous beat's repolarisation).

Real recordings only; the figures quoted in ``models/ecg/report/rpeaks_review.md``.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.ndimage import uniform_filter1d

from cloud.real_ecg.fetch import DEFAULT_DEST
from cloud.real_ecg.records import load_all
from cloud.real_ecg.rpeaks import EDGE_S, MATCH_S, _peers_cached, detect, edge_emits, pairs, reference_of
from models.preprocessing.beats import ECG_RATE_HZ, condition
from models.preprocessing.ecg import bandpass

#: Leads the floor does not apply to (``rpeaks.md``): no reference to tell extras from beats.
NO_REFERENCE = ("cpsc2018/A0009:V1", "aladin/STANFORD3", "noise_detector/noisy_ecg")
#: Feature name -> whether a high value is T-like (else a low one is).
FEATURES = {"smooth": False, "width_ms": True, "centroid_hz": False, "after_qt": False}


@dataclass(frozen=True, slots=True)
class Detection:
    lead: str
    seconds: float
    extra: bool
    values: dict[str, float]


def _features(x: np.ndarray, f: np.ndarray, g: np.ndarray, q: int, since_s: float, rr_s: float) -> dict[str, float]:
    """At sample ``q`` of the conditioned lead ``x`` (250 Hz) with its 5-20 Hz band ``f`` and slope envelope ``g``."""
    fs = ECG_RATE_HZ
    hf = float(np.sqrt(np.mean(f[q - 12 : q + 13] ** 2)))
    lf = float(np.sqrt(np.mean((x - f)[q - 25 : q + 26] ** 2)))
    half = float(g[q - 20 : q + 21].max()) / 2
    lo, hi = q, q
    while lo > 0 and g[lo] >= half:
        lo -= 1
    while hi < x.size - 1 and g[hi] >= half:
        hi += 1
    seg = x[q - 15 : q + 16] - np.mean(x[q - 15 : q + 16])
    power = np.abs(np.fft.rfft(seg * np.hanning(seg.size))) ** 2
    freqs = np.fft.rfftfreq(seg.size, 1 / fs)
    qt = 0.4 * np.sqrt(rr_s) if np.isfinite(rr_s) else np.nan
    return {"smooth": hf / max(lf, 1e-12), "width_ms": (hi - lo) / fs * 1000,
            "centroid_hz": float((power * freqs).sum() / max(float(power.sum()), 1e-12)),
            "after_qt": since_s / qt if np.isfinite(qt) else np.nan}


def detections(dest: Path) -> list[Detection]:
    """Every emitted detection inside the scored part of each lead the floor applies to."""
    out: list[Detection] = []
    for rec in load_all(dest):
        if rec.name in NO_REFERENCE:
            continue
        fs = rec.fs
        ref = reference_of(rec, _peers_cached(rec, dest / "peers"))
        found = detect(rec.signal_mv, fs)
        tol = MATCH_S * fs
        found = ref.outside_ignored(found[edge_emits(rec.signal_mv, fs, found)], tol)
        _, hit = pairs(ref.beats, found, tol)
        matched = set(hit.astype(np.int64).tolist())
        x = condition(rec.signal_mv, fs)
        f = bandpass(x[None, :], ECG_RATE_HZ)[0]
        g = uniform_filter1d(np.abs(np.gradient(f)), round(0.1 * ECG_RATE_HZ))
        at = found / fs
        for k, p in enumerate(found.tolist()):
            q = round(p * ECG_RATE_HZ / fs)
            if not EDGE_S * fs <= p < rec.signal_mv.size - EDGE_S * fs or not 40 <= q < x.size - 40:
                continue
            since = float(at[k] - at[k - 1]) if k else np.nan
            rr = float(at[k - 1] - at[k - 2]) if k > 1 else np.nan
            out.append(Detection(rec.name, float(at[k]), p not in matched, _features(x, f, g, q, since, rr)))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="T-wave/notch features of the remaining extras on real leads")
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST, help="where the fetch script put the data")
    args = parser.parse_args(argv)
    rows = detections(args.dest)
    matched = [r for r in rows if not r.extra]
    sys.stdout.write(f"{len(matched)} matched detections, {len(rows) - len(matched)} extras (real leads)\n")
    for name, high_is_t in FEATURES.items():
        values = np.asarray([r.values[name] for r in matched])
        values = values[np.isfinite(values)]
        sys.stdout.write(f"{name}: matched p1 {np.quantile(values, 0.01):.3f}, median {np.median(values):.3f}, "
                         f"p99 {np.quantile(values, 0.99):.3f}\n")
        for r in rows:
            v = r.values[name]
            if r.extra and np.isfinite(v):
                as_unlike = int(np.sum(values >= v) if high_is_t else np.sum(values <= v))
                sys.stdout.write(f"  {r.lead:24s} {r.seconds:8.2f} s  {v:8.3f}  matched beats as T-like: {as_unlike}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
