"""The edge pipeline itself on a real lead: which beats it classifies, against what the validation's
emulation of its quality gate (:func:`cloud.real_ecg.rpeaks.edge_emits`) says it emits.

``python -m cloud.real_ecg.edge_replay [--only NAME...]`` feeds each lead to
:class:`edge.ecg_pipeline.EcgPipeline` (default settings) in 0.5 s frames of int16 counts of 1 µV, as a
device sends them, and prints, per lead: the beats it classified, the detections the emulation refuses
and which of those the edge classified anyway, and the detections the emulation keeps that the edge did
not classify (its first beats while it warms up and the record's last beat are expected there). Real
recordings only; the cross-check quoted in ``models/ecg/report/rpeaks_review.md``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from cloud.real_ecg.fetch import DEFAULT_DEST
from cloud.real_ecg.records import load_all
from cloud.real_ecg.rpeaks import detect, edge_emits
from edge.alerts import AlertContext
from edge.ecg_pipeline import EcgPipeline
from edge.quality_state import QualityTracker
from iomt.wire.frames import make_frame

T0_US = 1_764_000_000_000_000
FRAME_S = 0.5
SCALE_MV = 0.001
#: A classified beat and a detection this close (s) are the same beat.
SAME_S = 0.05


def edge_beats_s(signal_mv: np.ndarray, fs: float) -> np.ndarray:
    """R-peak times (s from the lead's start) of the beats the edge pipeline classifies."""
    counts = np.clip(np.round(np.asarray(signal_mv) / SCALE_MV), -32768, 32767).astype(np.int16)
    pipeline = EcgPipeline(AlertContext("replay", "edge"), QualityTracker("replay", "edge"), hop_s=FRAME_S)
    n = round(FRAME_S * fs)
    times: list[float] = []
    for k in range(counts.size // n):
        frame = make_frame("d", "ecg", k, T0_US + round(k * FRAME_S * 1e6), fs, counts[k * n : (k + 1) * n], SCALE_MV)
        pipeline.on_frame(frame, k)
        times += [(w.extra - T0_US) / 1e6 for w in pipeline.ready()[0]]
    return np.asarray(times)


def _near(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray([b.size > 0 and bool(np.min(np.abs(b - v)) <= SAME_S) for v in a], dtype=bool)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="the edge pipeline on real leads against the gate's emulation")
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST, help="where the fetch script put the data")
    parser.add_argument("--only", nargs="*", default=["ishne", "pecg/signal"], help="record names (or prefixes)")
    args = parser.parse_args(argv)
    for rec in load_all(args.dest):
        if not any(rec.name.startswith(o) for o in args.only):
            continue
        fs = rec.fs
        edge = edge_beats_s(rec.signal_mv, fs)
        found = detect(rec.signal_mv, fs)
        emitted = edge_emits(rec.signal_mv, fs, found)
        at = found / fs
        refused = at[~emitted]

        def listed(v: np.ndarray) -> str:
            return ", ".join(f"{t:.2f}" for t in v) or "none"

        sys.stdout.write(
            f"{rec.name}: edge classified {edge.size} beats; {found.size} detections, {int(emitted.sum())} emulated "
            f"as emitted\n  emulation refuses: {listed(refused)}; of those the edge classified: "
            f"{listed(refused[_near(refused, edge)])}\n  emulated as emitted, not classified by the edge: "
            f"{listed(at[emitted][~_near(at[emitted], edge)])}\n  classified by the edge, no detection there: "
            f"{listed(edge[~_near(edge, at)])}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
