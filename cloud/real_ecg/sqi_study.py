"""Published ECG signal-quality indices, measured on the real leads and the simulator's rhythms: the study
behind "the noise test signal" in ``models/ecg/report/rpeaks_review.md`` (why no rule refuses it).

``python -m cloud.real_ecg.sqi_study [--sim] [--peers]`` prints, per lead:

* per 2 s window the edge's quality check passes (hop 1 s; simulated: 0.5 s), min / 1st percentile /
  median / max of: ``qrs_share`` (5-40 Hz of 0.7-40 Hz power, after the check's parabola), ``low_share``
  (0.7-2.5 Hz of 0.7-40 Hz), ``k_band`` (kurtosis of the 5-40 Hz band), ``k_raw`` (kurtosis of the window
  less its parabola: kSQI, Li, Mark & Clifford 2008), ``stand_out`` (largest |5-40 Hz| over its median);
* per 10 s window (hop 5 s) of the shared detector's R-peaks, Orphanidou et al. 2015's rules: heart
  rate 40-180 bpm, no interval over 3 s, longest over shortest interval at most 2.2, mean correlation
  of the beats with their average at least 0.66; how many windows fail each;
* with ``--peers`` (real leads; the peer detections cached by ``cloud.real_ecg.rpeaks``), bSQI: the
  agreement (F1, 150 ms) of the shared detector with each peer per 10 s window, as min / share below 0.8.

Real leads: their first 30 minutes. Simulated: 3 patients x 60 s of every condition at 200 and 360 Hz.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from scipy.stats import kurtosis

from cloud.real_ecg.fetch import DEFAULT_DEST
from cloud.real_ecg.records import load_all
from cloud.real_ecg.rpeaks import _peers_cached, detect
from edge.dsp.quality import detrended, ecg_quality_many
from firmware_sim.ecg import EcgStream
from firmware_sim.persona import CONDITIONS, make_persona
from models.preprocessing.beats import ECG_RATE_HZ, condition
from models.preprocessing.ecg import detect_r_peaks

#: The most of a long recording studied (s).
LONGEST_S = 1800.0
#: bSQI: two detections this close (s) are the same beat (Li, Mark & Clifford 2008).
BSQI_TOL_S = 0.15


def windows(x: np.ndarray, fs: float, seconds: float, hop_s: float) -> np.ndarray:
    """The ``seconds`` windows of ``x`` ending every ``hop_s``, as rows."""
    w, h = round(seconds * fs), round(hop_s * fs)
    ends = range(w, x.size + 1, h)
    return np.stack([x[e - w : e] for e in ends]) if x.size >= w else np.zeros((0, w))


def spectral_sqis(w: np.ndarray, fs: float) -> dict[str, np.ndarray]:
    """Per row of ``w`` (2 s windows, mV): the window SQIs named in the module docstring."""
    d = detrended(w)
    spectrum = np.fft.rfft(d, axis=1)
    power = np.abs(spectrum) ** 2
    f = np.fft.rfftfreq(w.shape[1], 1.0 / fs)

    def band(lo: float, hi: float) -> np.ndarray:
        return np.asarray(power[:, (f >= lo) & (f < hi)].sum(axis=1))

    inside = np.maximum(band(0.7, 40.0), 1e-12)
    qrs = np.fft.irfft(spectrum * ((f >= 5.0) & (f <= 40.0)), n=w.shape[1], axis=1)
    envelope = np.abs(qrs)
    return {
        "qrs_share": band(5.0, 40.0) / inside,
        "low_share": band(0.7, 2.5) / inside,
        "k_band": np.asarray(kurtosis(qrs, axis=1, fisher=False)),
        "k_raw": np.asarray(kurtosis(d, axis=1, fisher=False)),
        "stand_out": envelope.max(axis=1) / np.maximum(np.median(envelope, axis=1), 1e-12),
    }


def orphanidou(peaks: np.ndarray, y: np.ndarray) -> str | None:
    """The first of Orphanidou's rules a 10 s window fails (``None``: none), from its R-peaks ``peaks`` in
    the conditioned ``y`` at the model rate."""
    rr = np.diff(peaks) / ECG_RATE_HZ
    if rr.size < 1:
        return "few"
    if not 40.0 <= 60.0 / float(np.mean(rr)) <= 180.0:
        return "rate"
    if rr.max() > 3.0:
        return "gap"
    if rr.max() / rr.min() > 2.2:
        return "ratio"
    return "template" if template_correlation(peaks, y) < 0.66 else None


def template_correlation(peaks: np.ndarray, y: np.ndarray) -> float:
    """Mean correlation of the beats (a median interval around each R-peak) with their average."""
    half = int(np.median(np.diff(peaks)) // 2)
    inside = [p for p in peaks.tolist() if p - half >= 0 and p + half < y.size]
    if len(inside) < 2:
        return 0.0
    beats = np.stack([y[p - half : p + half] for p in inside])
    template = beats.mean(axis=0)
    return float(np.mean([np.corrcoef(b, template)[0, 1] for b in beats]))


def bsqi(a: np.ndarray, b: np.ndarray, tol: float) -> float:
    """Agreement (F1) of two detectors' R-peaks ``a`` and ``b`` within ``tol`` samples."""
    if a.size == 0 and b.size == 0:
        return 1.0
    if a.size == 0 or b.size == 0:
        return 0.0
    matched = int(np.count_nonzero(np.min(np.abs(a[:, None] - b[None, :]), axis=1) <= tol))
    return 2.0 * matched / (a.size + b.size)


def _within(peaks: np.ndarray, start: int, size: int) -> np.ndarray:
    return peaks[(peaks >= start) & (peaks < start + size)]


def _range(v: np.ndarray) -> str:
    return f"{v.min():.2f} / {np.percentile(v, 1):.2f} / {np.median(v):.2f} / {v.max():.2f}"


def lead_lines(name: str, x: np.ndarray, fs: float, hop_s: float) -> str:
    """The window SQIs and Orphanidou's verdicts of one lead, as text."""
    w = windows(x, fs, 2.0, hop_s)
    passed = w[np.asarray([v is None for v in ecg_quality_many(w, fs)], dtype=bool)] if w.size else w
    sqis = " | ".join(f"{k} {_range(v)}" for k, v in spectral_sqis(passed, fs).items()) if passed.size else "-"
    y = condition(x, fs)
    peaks = detect_r_peaks(y, ECG_RATE_HZ)
    size, step = round(10 * ECG_RATE_HZ), round(5 * ECG_RATE_HZ)
    fails = [orphanidou(peaks[(peaks >= s) & (peaks < s + size)] - s, y[s : s + size])
             for s in range(0, y.size - size + 1, step)]
    counts = {k: fails.count(k) for k in ("rate", "gap", "ratio", "template", "few") if fails.count(k)}
    return (f"{name}: {passed.shape[0]} of {w.shape[0]} 2 s windows pass the check; min / p1 / median / max: "
            f"{sqis}\n  Orphanidou, 10 s windows failing: {sum(counts.values())} of {len(fails)} {counts}\n")


def simulated() -> Iterator[tuple[str, np.ndarray, float]]:
    """3 simulated patients x 60 s of every condition, at 200 and 360 Hz, as the edge receives them."""
    for fs in (200.0, 360.0):
        for cond in CONDITIONS:
            for seed in range(3):
                stream = EcgStream(make_persona(seed, seed, condition=cond), fs, np.random.default_rng(seed))
                yield f"sim/{cond}/{seed}@{fs:.0f}", np.round(stream.render(round(fs * 60)) / 1e-3) * 1e-3, fs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="published ECG SQIs on the real leads and simulated rhythms")
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST, help="where the fetch script put the data")
    parser.add_argument("--sim", action="store_true", help="the simulated rhythms instead of the real leads")
    parser.add_argument("--peers", action="store_true", help="real leads: bSQI against each peer detector")
    args = parser.parse_args(argv)
    if args.sim:
        for name, x, fs in simulated():
            sys.stdout.write(lead_lines(name, x, fs, 0.5))
        return 0
    for rec in load_all(args.dest):
        x = rec.signal_mv[: round(rec.fs * LONGEST_S)]
        sys.stdout.write(lead_lines(rec.name, x, rec.fs, 1.0))
        if args.peers:
            found = detect(rec.signal_mv, rec.fs)
            size = round(10 * rec.fs)
            row = []
            for peer, theirs in sorted(_peers_cached(rec, args.dest / "peers").items()):
                v = np.asarray([bsqi(_within(found, s, size), _within(theirs, s, size), BSQI_TOL_S * rec.fs)
                                for s in range(0, x.size - size + 1, size // 2)])
                row.append(f"{peer} {v.min():.2f}/{np.mean(v < 0.8):.2f}" if v.size else f"{peer} -")
            sys.stdout.write(f"  bSQI with each peer, 10 s windows (min / share < 0.8): {', '.join(row)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
