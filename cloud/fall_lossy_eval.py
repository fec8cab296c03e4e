"""The edge's fall pipeline on a lossy link: how many alerts a dropped frame adds on real daily activity
(no falls in it), and whether simulated falls are still alerted when frames are lost after the impact.

It drives the edge's own :class:`edge.fall_pipeline.FallPipeline` (frames of 0.5 s through ``on_frame``,
``on_gap`` before the first frame after a loss, the released int8 model via LiteRT, the pipeline's
clock moved with the stream) — not a re-implementation of it. A lost slot drops the accelerometer and
gyroscope frames of the same 0.5 s, as a radio dropout does. Losses are drawn independently per slot
(a seeded generator), so a figure is reproducible.

Baseline in the same run, on the same losses: alerting at the gap itself, the rule the pipeline had
before it waited for the signal — every impact whose signal broke off before it could be judged (each
is noted as the pipeline judges it) counted as an alert.

    python -m cloud.fall_lossy_eval --loss 0 0.01 0.05 --json build/fall_lossy.json
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

FRAME_S = 0.5
#: the rate simulated_falls renders at (its default)
SIM_RATE_HZ = 50.0
ALERT_LABELS = ("fall", "possible_fall")


@dataclass
class Clock:
    ns: int = 0

    def __call__(self) -> int:
        return self.ns


@dataclass
class Outcome:
    """What one recording produced: alert impact times (s from its start) by label, and the impacts
    undecided at a gap (what alerting at the gap would have raised)."""

    alerts: dict[str, list[float]] = field(default_factory=dict)
    gaps: int = 0
    #: impact times (s) of the impacts whose signal broke off before they were judged, and how each was
    #: judged once the signal was back or stayed away (the baseline alerted each at the gap)
    lost: list[tuple[float, str, str]] = field(default_factory=list)


def replay(acc: np.ndarray, gyro: np.ndarray | None, rate_hz: float, runner: Any, loss: float,
           rng: np.random.Generator, tail_s: float = 12.0) -> Outcome:
    """Feed one recording to a fresh pipeline with each 0.5 s slot lost with probability ``loss``."""
    from edge.events import EventFactory
    from edge.fall_pipeline import FallPipeline, LostJudgement
    from edge.quality_state import QualityTracker
    from iomt.wire.frames import make_frame
    clock = Clock()
    out = Outcome()
    t0_us = 1_000_000_000_000

    def judged(j: LostJudgement) -> None:  # note each lost impact
        out.lost.append(((j.impact_us - t0_us) / 1e6, "alerted" if j.event is not None else "rejected",
                         j.event.detail["reason"] if j.event is not None else ""))

    pipe = FallPipeline(EventFactory("eval", "eval"), QualityTracker("eval", "eval"),
                        model_version=lambda: runner.version, clock=clock, on_lost_judged=judged)
    step = max(1, round(FRAME_S * rate_hz))
    gap = False
    events: list[Any] = []
    seq = 0

    def cycle() -> None:
        windows, cut = pipe.ready()
        events.extend(cut)
        if windows:
            x = np.stack([w.x for w in windows]).astype(np.float32)
            events.extend(pipe.on_outputs(windows, np.asarray(runner.predict(x)), runner))

    for lo in range(0, len(acc) - step + 1, step):
        clock.ns += round(FRAME_S * 1e9)
        if loss and rng.random() < loss:
            gap, out.gaps = True, out.gaps + 1
            seq += 1
            cycle()
            continue
        start = t0_us + round(lo / rate_hz * 1e6)
        parts = [("acc", acc[lo:lo + step], 1 / 4096)]
        if gyro is not None:
            parts.append(("gyro", gyro[lo:lo + step], 1 / 16))
        for stream, values, scale in parts:
            if gap:
                pipe.on_gap("rec", stream)
            frame = make_frame("rec", stream, seq, start, rate_hz,
                               np.clip(np.round(values / scale), -32768, 32767).astype(np.int16), scale)
            events.extend(pipe.on_frame(frame, 0))
        gap = False
        seq += 1
        cycle()
    for _ in range(round(tail_s / FRAME_S)):  # let waiting decisions end (the stream stops here)
        clock.ns += round(FRAME_S * 1e9)
        cycle()
    for e in events:
        if e.kind == "alert" and e.label in ALERT_LABELS:
            out.alerts.setdefault(e.label, []).append((e.detail["impact_us"] - t0_us) / 1e6)
    return out


def real_false_alarms(runner: Any, losses: list[float], seed: int) -> dict[str, Any]:
    """Alerts per hour on the held-out real daily-activity recordings (no falls), per loss rate."""
    from cloud import real_motion
    from cloud.eval_fall import garwood

    real_motion.fetch()
    recs = [r for r in real_motion.load_all() if r.use != "train"]
    hours = sum(r.hours for r in recs)
    out: dict[str, Any] = {"recordings": len(recs), "hours": round(hours, 3)}
    for loss in losses:
        rng = np.random.default_rng([seed, round(loss * 1e6)])
        counts = {label: 0 for label in ALERT_LABELS}
        gaps = lost = 0
        for rec in recs:
            o = replay(rec.acc, rec.gyro, rec.rate_hz, runner, loss, rng)
            for label in ALERT_LABELS:
                counts[label] += len(o.alerts.get(label, []))
            gaps, lost = gaps + o.gaps, lost + len(o.lost)
        total = sum(counts.values())
        baseline = counts["fall"] + lost  # every impact whose signal broke off, alerted at the gap
        row = {"gaps": gaps, "impacts_lost_before_judged": lost,
               "waits_for_signal": {"alerts": counts, "alerts_per_hour": round(total / hours, 3),
                                    "alerts_per_hour_95ci": [round(v, 3) for v in garwood(total, hours)]},
               "baseline_alert_at_gap": {"alerts": baseline, "alerts_per_hour": round(baseline / hours, 3),
                                         "alerts_per_hour_95ci": [round(v, 3) for v in garwood(baseline, hours)]}}
        out[str(loss)] = row
    return out


def simulated_falls_alerted(runner: Any, losses: list[float], per_kind: int, seed: int) -> dict[str, Any]:
    """Share of simulated falls of every kind alerted (a fall or possible-fall alert within 1 s of the
    impact) when slots are lost at random, and when the slot right after the impact is lost."""
    from cloud.eval_fall import simulated_falls
    from firmware_sim.motion import FALLS

    out: dict[str, Any] = {}
    cases: list[float | str] = [*losses, "after_impact"]
    for loss in cases:
        rng = np.random.default_rng([seed, 7])
        hit = hit_base = total = 0
        for kind in FALLS:
            for acc, gyro, impact, _ in simulated_falls(kind, per_kind, seed):
                o = _replay_losing_after(acc, gyro, impact, runner) if isinstance(loss, str) else \
                    replay(acc, gyro, SIM_RATE_HZ, runner, loss, rng)
                total += 1
                alerted = any(abs(t - impact) <= 1.0 for ts in o.alerts.values() for t in ts)
                hit += alerted
                hit_base += alerted or any(abs(t - impact) <= 1.0 for t, _, _ in o.lost)
        row = {"falls": total, "waits_for_signal": {"alerted": hit, "share": round(hit / total, 4)},
               "baseline_alert_at_gap": {"alerted": hit_base, "share": round(hit_base / total, 4)}}
        out[str(loss)] = row
    return out


def _replay_losing_after(acc: np.ndarray, gyro: np.ndarray, impact_s: float, runner: Any) -> Outcome:
    """The 1 s of frames after the one holding the impact are lost (the impact seen, its aftermath not:
    the case the pipeline's wait-and-judge is for), nothing else."""
    first = int(np.floor(impact_s / FRAME_S)) + 1
    return replay(acc, gyro, SIM_RATE_HZ, runner, 1.0, _LoseSlots({first, first + 1}))  # type: ignore[arg-type]


class _LoseSlots:
    """Stands in for the random generator: with loss 1.0, loses exactly the slots (0.5 s each) named."""

    def __init__(self, lost: set[int]) -> None:
        self.lost, self.slot = lost, 0

    def random(self) -> float:
        self.slot += 1
        return 0.0 if self.slot - 1 in self.lost else 1.0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--loss", type=float, nargs="+", default=[0.0, 0.01, 0.05], help="share of 0.5 s slots lost")
    p.add_argument("--per-kind", type=int, default=10, help="simulated falls per kind")
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--model", type=Path, default=Path("models/fall/fall.tflite"))
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    from models.runtime import ModelRunner

    runner = ModelRunner(args.model)
    report = {
        "model": {"file": args.model.name, "version": runner.version},
        "real_daily_activity": real_false_alarms(runner, args.loss, args.seed),
        "simulated_falls": simulated_falls_alerted(runner, args.loss, args.per_kind, args.seed),
    }
    text = json.dumps(report, indent=1)
    sys.stdout.write(text + "\n")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
