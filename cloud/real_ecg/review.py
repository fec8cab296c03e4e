"""Every miss and extra of the shared R-peak detector on real leads, for a person to look at.

``python -m cloud.real_ecg.review [--only NAME...] [--plot DIR]`` prints, per lead, each reference beat
the detector missed and each detection that matched none (as :mod:`cloud.real_ecg.rpeaks` counts
them: of what the edge emits, :func:`cloud.real_ecg.rpeaks.edge_emits`), with how many of the nine
peers put a beat within 50 ms of it and the edge's signal-quality
verdict on the 2 s windows around it (:func:`edge.dsp.quality.ecg_quality`, what the edge checks
before it searches). ``--plot`` draws a 6 s window around each event (the lead, every peer's marks,
the reference and ours) into ``DIR/<lead>.png``: this is how the review in
``models/ecg/report/rpeaks_review.md`` was made.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cloud.real_ecg.fetch import DEFAULT_DEST
from cloud.real_ecg.peers import AGREE_S, PEERS
from cloud.real_ecg.records import RealRecord, load_all
from cloud.real_ecg.rpeaks import EDGE_S, MATCH_S, _peers_cached, detect, edge_emits, pairs, reference_of
from edge.dsp.quality import ecg_quality

#: The edge checks the last 2 s before each search (edge.ecg_pipeline.QUALITY_S), about once a second.
QUALITY_WINDOW_S = 2.0


@dataclass(frozen=True, slots=True)
class Event:
    """A missed reference beat or an extra detection: where, how many peers saw a beat there, and
    the edge's quality verdicts on the windows holding it ("" where every one was fit)."""

    kind: str
    sample: int
    seconds: float
    votes: int
    gate: str


def events(rec: RealRecord, cache: Path | None) -> list[Event]:
    """The misses and extras of the shared detector on ``rec`` (EC57 counting, as the validation)."""
    fs, x, n = rec.fs, rec.signal_mv, rec.signal_mv.size
    peers = _peers_cached(rec, cache)
    ref = reference_of(rec, peers)
    reference = ref.beats
    tol = MATCH_S * fs
    found = detect(x, fs)
    found = ref.outside_ignored(found[edge_emits(x, fs, found)], tol)  # what the edge emits, as scored
    ref_hit, det_hit = pairs(reference, found, tol)
    lo, hi = EDGE_S * fs, n - EDGE_S * fs
    width, step = round(QUALITY_WINDOW_S * fs), max(1, round(fs))
    verdicts = [(start, ecg_quality(x[start : start + width], fs)) for start in range(0, n - width + 1, step)]

    def event(kind: str, p: int) -> Event:
        votes = sum(bool(v.size and np.abs(v - p).min() <= AGREE_S * fs) for v in peers.values())
        gate = sorted({str(q) for start, q in verdicts if q is not None and start <= p < start + width})
        return Event(kind, p, p / fs, votes, ",".join(gate))

    missed = [int(p) for p in np.setdiff1d(reference, ref_hit) if lo <= p < hi]
    extra = [int(p) for p in np.setdiff1d(found, det_hit) if lo <= p < hi]
    return sorted([event("missed", p) for p in missed] + [event("extra", p) for p in extra], key=lambda e: e.sample)


def plot(rec: RealRecord, found: list[Event], cache: Path | None, path: Path, half_s: float = 3.0) -> None:
    """One panel per event: the lead, the peers' marks above it, the reference beats (circles), the
    annotations that mark no beat (grey squares: artefacts, left out of the scoring), ours (x)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fs, x = rec.fs, rec.signal_mv
    peers = _peers_cached(rec, cache)
    ref = reference_of(rec, peers)
    ours = detect(x, fs)
    fig, axes = plt.subplots(len(found), 1, figsize=(14, 2.4 * len(found)), squeeze=False)
    for ax, ev in zip(axes[:, 0], found, strict=True):
        a, b = max(0, round(ev.sample - half_s * fs)), min(x.size, round(ev.sample + half_s * fs))
        ax.plot(np.arange(a, b) / fs, x[a:b], lw=0.7, color="k")
        top, span = float(x[a:b].max()), float(np.ptp(x[a:b])) or 1.0
        for k, name in enumerate(PEERS):
            v = peers[name][(peers[name] >= a) & (peers[name] < b)]
            ax.plot(v / fs, np.full(v.size, top + span * (0.06 + 0.05 * k)), "|", ms=5, label=name)
        r = ref.beats[(ref.beats >= a) & (ref.beats < b)]
        ax.plot(r / fs, x[r], "o", mfc="none", mec="g", ms=9, label="reference")
        m = ref.ignore[(ref.ignore >= a) & (ref.ignore < b)]
        ax.plot(m / fs, x[m], "s", mfc="none", mec="0.5", ms=9, label="artefact mark (not scored)")
        d = ours[(ours >= a) & (ours < b)]
        ax.plot(d / fs, x[d], "rx", ms=8, label="shared detector")
        ax.axvline(ev.seconds, color="orange", lw=0.6)
        ax.set_title(f"{rec.name} {ev.kind} at {ev.seconds:.2f} s, {ev.votes}/{len(PEERS)} peers, "
                     f"quality: {ev.gate or 'fit'}", fontsize=8)
    axes[0, 0].legend(fontsize=6, ncol=len(PEERS) + 2, loc="lower left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="misses and extras of the shared R-peak detector on real ECG")
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST, help="where the fetch script put the data")
    parser.add_argument("--only", nargs="*", help="record names (or prefixes)")
    parser.add_argument("--plot", type=Path, help="draw a window around each event into this folder")
    args = parser.parse_args(argv)
    cache = args.dest / "peers"
    for rec in load_all(args.dest):
        if args.only and not any(rec.name.startswith(o) for o in args.only):
            continue
        found = events(rec, cache)
        if not found:
            continue
        sys.stdout.write(f"{rec.name} ({rec.fs:.0f} Hz)\n")
        for ev in found:
            sys.stdout.write(f"  {ev.kind:6s} {ev.seconds:9.2f} s  peers {ev.votes}/{len(PEERS)}  "
                             f"edge quality: {ev.gate or 'fit'}\n")
        if args.plot:
            plot(rec, found, cache, args.plot / f"{rec.name.replace('/', '__').replace(':', '_')}.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
