"""The edge pipeline itself on a real lead: which beats it classifies, against what the validation's
emulation of its quality gate (:func:`cloud.real_ecg.rpeaks.edge_emits`) says it emits.

``python -m cloud.real_ecg.edge_replay [--only NAME...]`` feeds each lead to
:class:`edge.ecg_pipeline.EcgPipeline` (default settings) in 0.5 s frames of int16 counts of 1 µV, as a
device sends them, and prints, per lead: the beats it classified, the detections the emulation refuses
and which of those the edge classified anyway, and the detections the emulation keeps that the edge did
not classify (its first beats while it warms up and the record's last beat are expected there). Real
recordings only; the cross-check quoted in ``models/ecg/report/rpeaks_review.md``.

``--events`` runs the released int8 ECG model on the beats as well and prints what the edge raises, as
a nurse would see it: the signal-quality events, the heart-rate range, the beat classes and every
arrhythmia alert (:class:`edge.alerts.ArrhythmiaState`). ``--repeat N`` plays each lead N times in a
row (each repeat from :data:`REPEAT_FROM_S` on, shifted to continue from the level the lead ended at):
what the edge raises if a short recording's signal went on for longer.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from cloud.real_ecg.fetch import DEFAULT_DEST
from cloud.real_ecg.records import load_all
from cloud.real_ecg.rpeaks import detect, edge_emits
from edge.alerts import AlertContext
from edge.ecg_pipeline import HEART_RATE, BeatWindow, EcgPipeline
from edge.quality_state import QualityTracker
from iomt.wire.events import Event, EventKind
from iomt.wire.frames import make_frame
from models.runtime import ModelRunner

T0_US = 1_764_000_000_000_000
FRAME_S = 0.5
SCALE_MV = 0.001
#: A classified beat and a detection this close (s) are the same beat.
SAME_S = 0.05
#: Where a repeat of the lead starts (s): past the settling of a recording's start (a front end's
#: high-pass decaying), which would otherwise come back as a step at every join.
REPEAT_FROM_S = 6.0


def _counts(signal_mv: np.ndarray) -> np.ndarray:
    return np.clip(np.round(np.asarray(signal_mv) / SCALE_MV), -32768, 32767).astype(np.int16)


def _replayed(signal_mv: np.ndarray, fs: float) -> Iterator[tuple[EcgPipeline, list[BeatWindow], list[Event]]]:
    """Feed the lead to a fresh edge pipeline in :data:`FRAME_S` frames as a device sends them; after each
    frame, the pipeline, the beat windows it made ready and the events the frame and the cycle raised."""
    counts = _counts(signal_mv)
    pipeline = EcgPipeline(AlertContext("replay", "edge"), QualityTracker("replay", "edge"), hop_s=FRAME_S)
    n = round(FRAME_S * fs)
    for k in range(counts.size // n):
        frame = make_frame("d", "ecg", k, T0_US + round(k * FRAME_S * 1e6), fs, counts[k * n : (k + 1) * n], SCALE_MV)
        events = pipeline.on_frame(frame, k)
        windows, found = pipeline.ready()
        yield pipeline, windows, events + found


def edge_beats_s(signal_mv: np.ndarray, fs: float) -> np.ndarray:
    """R-peak times (s from the lead's start) of the beats the edge pipeline classifies."""
    return np.asarray([(w.extra - T0_US) / 1e6 for _, windows, _ in _replayed(signal_mv, fs) for w in windows])


def repeated(signal_mv: np.ndarray, fs: float, times: int) -> np.ndarray:
    """The lead played ``times`` times in a row, each repeat from :data:`REPEAT_FROM_S` on and shifted to
    start at the level the previous one ended at (no step at the join)."""
    x = np.asarray(signal_mv, dtype=np.float64)
    tail = x[round(REPEAT_FROM_S * fs) :]
    parts = [x]
    for _ in range(times - 1):
        parts.append(tail - tail[0] + parts[-1][-1])
    return np.concatenate(parts)


def edge_events(signal_mv: np.ndarray, fs: float, runner: ModelRunner) -> tuple[list[tuple[float, str]], list[Event]]:
    """What the edge pipeline raises on a lead, with ``runner`` classifying its beats: ``(R-peak s,
    class)`` of every classified beat and every event (quality, heart rate, beat classes, alerts)."""
    beats: list[tuple[float, str]] = []
    events: list[Event] = []
    for pipeline, windows, raised in _replayed(signal_mv, fs):
        events += raised
        if windows:
            outputs = runner.predict(pipeline.model_inputs(windows, runner))
            events += pipeline.on_outputs(windows, outputs, runner)
            beats += [((w.extra - T0_US) / 1e6, runner.classes[int(o.argmax())]) for w, o in zip(windows, outputs,
                                                                                                 strict=True)]
    return beats, events


def _seconds(us: int) -> str:
    return f"{(us - T0_US) / 1e6:.1f}"


def events_summary(name: str, seconds: float, beats: list[tuple[float, str]], events: list[Event]) -> str:
    """What a nurse would see of :func:`edge_events`' output, in a few lines."""
    classes = {c: sum(1 for _, b in beats if b == c) for c in sorted({b for _, b in beats})}
    rates = [e.value for e in events if e.model == HEART_RATE and e.value is not None]
    quality = [f"{e.label} {_seconds(e.window_start_us)}-{_seconds(e.window_end_us)} s"
               for e in events if e.kind is EventKind.QUALITY]
    alerts = [f"{e.label} {e.state} ({e.priority}, score {e.score:.2f}) at {_seconds(e.window_start_us)} s"
              for e in events if e.kind is EventKind.ALERT]
    v = ", ".join(f"{t:.2f}" for t, c in beats if c == "V") or "none"
    hr = f"{min(rates):.0f}-{max(rates):.0f} bpm ({len(rates)} events)" if rates else "none"
    return (f"{name} ({seconds:.1f} s): {len(beats)} beats classified {classes}\n  V beats at: {v} s\n"
            f"  heart rate: {hr}\n  quality events: {'; '.join(quality) or 'none'}\n"
            f"  arrhythmia alerts: {'; '.join(alerts) or 'none'}\n")


def _near(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray([b.size > 0 and bool(np.min(np.abs(b - v)) <= SAME_S) for v in a], dtype=bool)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="the edge pipeline on real leads against the gate's emulation")
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST, help="where the fetch script put the data")
    parser.add_argument("--only", nargs="*", default=["ishne", "pecg/signal"], help="record names (or prefixes)")
    parser.add_argument("--events", action="store_true",
                        help="classify the beats with the released ECG model; print the events and alerts raised")
    parser.add_argument("--repeat", type=int, default=1, help="with --events: play each lead this many times")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error(f"--repeat must be 1 or more, not {args.repeat}")
    runner = ModelRunner.released("ecg") if args.events else None
    for rec in load_all(args.dest):
        if not any(rec.name.startswith(o) for o in args.only):
            continue
        fs = rec.fs
        if runner is not None:
            x = repeated(rec.signal_mv, fs, args.repeat)
            name = rec.name if args.repeat == 1 else f"{rec.name} x{args.repeat}"
            sys.stdout.write(events_summary(name, x.size / fs, *edge_events(x, fs, runner)))
            continue
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
