"""Offline evaluation of the fall detector (model + :mod:`models.fall_logic`) on recordings of daily
activity: false alarms per hour with a 95 % Poisson (Garwood) interval, alarms by activity, the
classic 2.5 g and 3.0 g + stillness rules in the same run on the same samples, each in the worn
orientation and under a random 3-D rotation per recording; and sensitivity on simulated falls of
every kind.

The detector runs exactly as a device stream would feed it: samples pushed in 0.5 s chunks into a
:class:`models.fall_logic.FallTracker`, impact windows scored by ``scorer`` (the int8 ``.tflite``
through LiteRT in :func:`litert_scorer`), decisions collected. Pure Python (numpy, scipy; LiteRT for
the scorer); ``iomt eval fall`` runs :func:`evaluate_fall` (:mod:`cloud.fall_real_eval`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from cloud.real_motion import MotionRecording
from models.fall_logic import DEVICE_REMOVED, FALL, FallDecision, FallLogicConfig, FallTracker, classic_rule

#: ``(k, WINDOW, 6)`` model inputs -> ``(k,)`` fall probabilities
Scorer = Callable[[np.ndarray], np.ndarray]
CLASSIC_RULES_G = (2.5, 3.0)
ORIENTATIONS = ("worn", "rotated")


def litert_scorer(tflite: Path, metadata: Path | None = None) -> Scorer:
    """The int8 model run by LiteRT (:class:`models.runtime.ModelRunner`); the fall class's probability."""
    from models.runtime import ModelRunner

    runner = ModelRunner(tflite, metadata)
    fall = runner.classes.index("fall") if "fall" in runner.classes else 1

    def score(x: np.ndarray) -> np.ndarray:
        return np.asarray(runner.predict(np.asarray(x, dtype=np.float32)))[:, fall]

    return score


def run_detector(
    acc: np.ndarray, gyro: np.ndarray | None, rate_hz: float, scorer: Scorer,
    config: FallLogicConfig | None = None, chunk_s: float = 0.5,
) -> list[FallDecision]:
    """Every decision the detector takes over a recording, fed in ``chunk_s`` chunks (as a stream)."""
    tracker = FallTracker(rate_hz, config or FallLogicConfig())
    step = max(1, round(chunk_s * rate_hz))
    out: list[FallDecision] = []
    for lo in range(0, len(acc), step):
        windows = tracker.push(acc[lo:lo + step], None if gyro is None else gyro[lo:lo + step])
        if windows:
            probs = scorer(np.stack([w.x for w in windows]))
            for w, p in zip(windows, probs, strict=True):
                tracker.score(w.impact_id, float(p))
        out.extend(tracker.decisions())
        removed = tracker.not_worn()
        if removed is not None:
            out.append(removed)
    return out


def impact_windows(
    acc: np.ndarray, gyro: np.ndarray | None, rate_hz: float, config: FallLogicConfig | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(model inputs (k, WINDOW, 6), impact times s, peak g)`` of every impact the detector would
    show the model in this recording (for building training data with the detector's own screen)."""
    tracker = FallTracker(rate_hz, config or FallLogicConfig())
    step = max(1, round(0.5 * rate_hz))
    xs, ts, peaks = [], [], []
    for lo in range(0, len(acc), step):
        for w in tracker.push(acc[lo:lo + step], None if gyro is None else gyro[lo:lo + step]):
            xs.append(w.x)
            ts.append(w.t_s)
            peaks.append(w.peak_g)
            tracker.score(w.impact_id, 0.0)
        tracker.decisions()
    from models.preprocessing.motion import CHANNELS, WINDOW

    x = np.stack(xs).astype(np.float32) if xs else np.zeros((0, WINDOW, CHANNELS), np.float32)
    return x, np.asarray(ts, dtype=np.float64), np.asarray(peaks, dtype=np.float64)


def garwood(k: int, exposure: float, level: float = 0.95) -> tuple[float, float]:
    """Exact (Garwood) two-sided interval of a Poisson rate: ``k`` events over ``exposure``."""
    from scipy.stats import chi2

    a = 1.0 - level
    lo = 0.0 if k == 0 else float(chi2.ppf(a / 2, 2 * k)) / 2
    hi = float(chi2.ppf(1 - a / 2, 2 * k + 2)) / 2
    return lo / exposure, hi / exposure


def random_rotation(seed: int) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    return np.asarray(Rotation.random(random_state=seed).as_matrix())


def rotate(rec: MotionRecording, r: np.ndarray) -> MotionRecording:
    """The same recording as a sensor mounted turned by ``r`` would have measured it."""
    gyro = None if rec.gyro is None else rec.gyro @ r.T
    return replace(rec, acc=rec.acc @ r.T, gyro=gyro)


def _activity_at(rec: MotionRecording, t: float) -> str:
    for a, b, label in rec.labels:
        if a <= t < b:
            return label
    return "unlabelled" if rec.labels else "no labels"


@dataclass
class _Tally:
    hours: float = 0.0
    alarms: int = 0
    removed: int = 0
    by_activity: Counter[str] | None = None
    alarm_list: list[dict[str, Any]] | None = None

    def add(self, rec: MotionRecording, times: Iterable[float], removed: int = 0) -> None:
        self.hours += rec.hours
        self.removed += removed
        if self.by_activity is None:
            self.by_activity = Counter()
            self.alarm_list = []
        for t in times:
            self.alarms += 1
            label = _activity_at(rec, t)
            self.by_activity[label] += 1
            assert self.alarm_list is not None
            self.alarm_list.append({"recording": rec.name, "t_s": round(float(t), 2), "activity": label})

    def result(self) -> dict[str, Any]:
        lo, hi = garwood(self.alarms, self.hours) if self.hours > 0 else (0.0, float("inf"))
        return {
            "alarms": self.alarms, "hours": round(self.hours, 4),
            "per_hour": round(self.alarms / self.hours, 4) if self.hours > 0 else None,
            "per_hour_95ci": [round(lo, 4), round(hi, 4)],
            "by_activity": dict(self.by_activity or {}), "device_removed_events": self.removed,
            "alarm_list": (self.alarm_list or [])[:200],
        }


def evaluate_recordings(
    recordings: Sequence[MotionRecording], scorer: Scorer, config: FallLogicConfig | None = None,
    *, group: Callable[[MotionRecording], str] = lambda r: r.source, seed: int = 11,
    orientations: Sequence[str] = ORIENTATIONS,
) -> dict[str, Any]:
    """False alarms per hour of the detector and of the classic rules on recordings without falls,
    per group (default: per source) and overall, in each orientation. ``rotated`` turns each
    recording by its own random rotation (seeded by ``seed`` and its position)."""
    cfg = config or FallLogicConfig()
    methods = ("detector", *(f"classic_{g}g" for g in CLASSIC_RULES_G))
    tallies: dict[tuple[str, str, str], _Tally] = {}
    for i, base in enumerate(recordings):
        for orientation in orientations:
            rec = base if orientation == "worn" else rotate(base, random_rotation(seed * 100_003 + i))
            decisions = run_detector(rec.acc, rec.gyro, rec.rate_hz, scorer, cfg)
            falls = [d.t_s for d in decisions if d.kind == FALL]
            removed = sum(d.kind == DEVICE_REMOVED for d in decisions)
            for g in (group(base), "all"):
                tallies.setdefault((g, orientation, "detector"), _Tally()).add(rec, falls, removed)
                for thr in CLASSIC_RULES_G:
                    alarms = classic_rule(rec.acc, rec.rate_hz, thr)
                    tallies.setdefault((g, orientation, f"classic_{thr}g"), _Tally()).add(rec, alarms)
    out: dict[str, Any] = {}
    for (g, orientation, method), tally in sorted(tallies.items()):
        out.setdefault(g, {}).setdefault(orientation, {})[method] = tally.result()
    for per in out.values():
        for res in per.values():
            det, rule = res["detector"], res["classic_3.0g"]
            res["beats_classic_3.0g"] = det["alarms"] < rule["alarms"] or det["alarms"] == rule["alarms"] == 0
    return {"methods": list(methods), "groups": out}


# -- simulated falls --------------------------------------------------------------------------------

#: scripted activities that lead into each fall kind (from standing, or sitting for a chair fall)
FALL_SCRIPTS: dict[str, list[str]] = {
    "fall_forward": ["walking", "fall_forward"], "fall_backward": ["walking", "fall_backward"],
    "fall_sideways": ["walking", "fall_sideways"], "collapse": ["standing", "collapse"],
    "fall_from_chair": ["walking", "sit_down", "fall_from_chair"],
}


def simulated_falls(
    kind: str, n: int, seed: int, rate_hz: float = 50.0, placement: str = "waist"
) -> Iterator[tuple[np.ndarray, np.ndarray, float, float]]:
    """``n`` simulated recordings, each ending in one fall of ``kind`` (random mount per recording);
    yields ``(acc, gyro, impact time s, fall onset s)``."""
    from firmware_sim.motion import MotionGenerator, MotionStream, random_mount
    from firmware_sim.persona import make_persona

    for i in range(n):
        rng = np.random.default_rng([seed, i, sum(map(ord, kind))])
        persona = replace(make_persona(seed, i), placement=placement)
        gen = MotionGenerator(persona, rate_hz, rng, mount=random_mount(rng))
        stream = MotionStream(gen, schedule=[*FALL_SCRIPTS[kind], "lying"])
        accs, gyros = [], []
        have = 0.0
        fall: tuple[float, float, str, str] | None = None
        while fall is None or have < fall[1] + 12.0:
            a, g = stream.render(round(rate_hz * 2))
            accs.append(a)
            gyros.append(g)
            have += len(a) / rate_hz
            if fall is None:
                fall = next((e for e in stream.pending_events if e[3] == "fall"), None)
            if have > 600:
                raise RuntimeError(f"no {kind} within 600 s of simulation")
        impact = next(e[0] for e in stream.pending_events if e[3] == "impact" and e[0] >= fall[0])
        yield np.concatenate(accs), np.concatenate(gyros), impact, fall[0]



def simulated_sensitivity(
    scorer: Scorer, config: FallLogicConfig | None = None, *, per_kind: int = 40, seed: int = 5,
    rotate_again: bool = False, with_gyro: bool = True,
) -> dict[str, Any]:
    """Per fall kind: share of simulated falls that raised a ``fall`` decision for their impact
    (peak within 1 s of the simulated one). ``rotate_again`` turns each recording by another random
    rotation on top of its random mount (the 'rotated' column); ``with_gyro=False``: an
    accelerometer-only device."""
    from firmware_sim.motion import FALLS

    cfg = config or FallLogicConfig()
    out: dict[str, Any] = {}
    for kind in FALLS:
        hits, reasons = 0, Counter[str]()
        for j, (acc, gyro, impact, _) in enumerate(simulated_falls(kind, per_kind, seed)):
            if rotate_again:
                r = random_rotation(seed * 7919 + j)
                acc, gyro = acc @ r.T, gyro @ r.T
            decisions = run_detector(acc, gyro if with_gyro else None, 50.0, scorer, cfg)
            near = [d for d in decisions if abs(d.t_s - impact) <= 1.0]
            if any(d.kind == FALL for d in near):
                hits += 1
            else:
                reasons[near[0].reason if near else "no impact above the screen"] += 1
        out[kind] = {"falls": per_kind, "detected": hits, "sensitivity": hits / per_kind,
                     "missed_because": dict(reasons)}
    return out


def simulated_daily_false_alarms(
    scorer: Scorer, config: FallLogicConfig | None = None, *, subjects: int = 20, seconds: float = 1800.0,
    seed: int = 21,
) -> dict[str, Any]:
    """False alarms per hour on simulated daily activity (falls excluded: an alarm within 10 s of a
    simulated fall is not counted), by the activity at the alarm. Simulated, never to be mixed with
    the real figures."""
    from firmware_sim.dataset import generate

    cfg = config or FallLogicConfig()
    tally = Counter[str]()
    alarms, hours, falls_seen, removed = 0, 0.0, 0, 0
    for rec in generate("motion", subjects, seconds, seed, random_mount=True):
        acc, gyro, fs = rec.signals["acc"].astype(np.float64), rec.signals["gyro"].astype(np.float64), rec.rates["acc"]
        decisions = run_detector(acc, gyro, fs, scorer, cfg)
        fall_times = [a.t_s for a in rec.truth if a.kind == "fall"]
        falls_seen += len(fall_times)
        hours += len(acc) / fs / 3600
        removed += sum(d.kind == DEVICE_REMOVED for d in decisions)
        for d in decisions:
            if d.kind != FALL or any(-1.0 <= d.t_s - f <= 10.0 for f in fall_times):
                continue
            alarms += 1
            act = [a.label for a in rec.truth if a.kind == "activity" and a.t_s <= d.t_s < a.t_end_s]
            tally[act[0] if act else "?"] += 1
    lo, hi = garwood(alarms, hours)
    return {"simulated": True, "hours": round(hours, 3), "false_alarms": alarms,
            "per_hour": round(alarms / hours, 4), "per_hour_95ci": [round(lo, 4), round(hi, 4)],
            "by_activity": dict(tally), "device_removed_events": removed, "falls_in_recordings": falls_seen}


# -- one call for `iomt eval fall --recordings DIR` ------------------------------------------------

SENSITIVITY_FLOOR = 0.95
GOAL_PER_HOUR = 0.05


def floors(
    real: dict[str, Any], worn: dict[str, Any], rotated: dict[str, Any], acc_only: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The issue's floors on one evaluation: fewer false alarms than the 3.0 g + stillness rule on the
    real recordings in both orientations (both zero counts as not worse), >= 95 % sensitivity on
    simulated falls of every kind (random mount, rotated again, and — stricter than the issue — an
    accelerometer-only device), and the 0.05/h goal (reported, not a floor)."""
    out: dict[str, Any] = {}
    for orientation in ORIENTATIONS:
        res = real["groups"]["all"][orientation]
        det, rule = res["detector"]["alarms"], res["classic_3.0g"]["alarms"]
        out[f"real {orientation}: fewer alarms than classic 3.0 g"] = {
            "pass": det < rule or det == rule == 0, "detector": det, "classic_3.0g": rule,
            "hours": res["detector"]["hours"]}
    sets = [("random mount", worn), ("rotated", rotated)] + ([("accelerometer only", acc_only)] if acc_only else [])
    for label, sens in sets:
        worst = min(v["sensitivity"] for v in sens.values())
        out[f"simulated falls ({label}): sensitivity >= {SENSITIVITY_FLOOR} for every kind"] = {
            "pass": worst >= SENSITIVITY_FLOOR, "worst": worst}
    worn_det = real["groups"]["all"]["worn"]["detector"]
    per_hour, upper = worn_det["per_hour"], worn_det["per_hour_95ci"][1]
    # met by the point estimate; "demonstrated" only when the 95 % upper bound is below it too (0 alarms
    # need about 74 h of recordings for that)
    out["goal: <= 0.05 false alarms/h (worn)"] = {
        "pass": per_hour is not None and per_hour <= GOAL_PER_HOUR, "per_hour": per_hour, "upper_95": upper,
        "demonstrated": upper <= GOAL_PER_HOUR, "hours": worn_det["hours"], "goal_only": True}
    return out


def evaluate_fall(
    recordings: Sequence[MotionRecording], tflite: Path, metadata: Path | None = None, *,
    config: FallLogicConfig | None = None, per_kind: int = 100, seed: int = 11,
) -> dict[str, Any]:
    """The whole evaluation with the int8 model through LiteRT: real recordings (worn and rotated,
    detector and both classic rules), simulated falls per kind, floors; ``passed`` is False when a
    floor fails (``iomt eval fall`` exits 1 then)."""
    scorer = litert_scorer(tflite, metadata)
    real = evaluate_recordings(recordings, scorer, config, group=lambda r: r.placement, seed=seed)
    worn = simulated_sensitivity(scorer, config, per_kind=per_kind, seed=seed)
    rotated = simulated_sensitivity(scorer, config, per_kind=per_kind, seed=seed, rotate_again=True)
    acc_only = simulated_sensitivity(scorer, config, per_kind=per_kind, seed=seed, with_gyro=False)
    spliced = spliced_sensitivity(recordings, scorer, config, per_kind=max(1, per_kind // 5), seed=seed)
    checks = floors(real, worn, rotated, acc_only)
    return {
        "model": str(tflite), "config": repr(config or FallLogicConfig()),
        "real": real, "simulated_falls_random_mount": worn, "simulated_falls_rotated": rotated,
        "simulated_falls_acc_only": acc_only, "simulated_falls_spliced_into_real": spliced,
        "floors": checks, "passed": all(v["pass"] for v in checks.values() if not v.get("goal_only")),
        "note": "real: recordings of daily activity without falls (false alarms); simulated: falls from "
                "firmware_sim (sensitivity). The two are never mixed.",
    }


def _align(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The rotation turning direction ``a`` onto direction ``b`` (Rodrigues)."""
    a = a / np.linalg.norm(a)
    b = b / np.linalg.norm(b)
    v, c = np.cross(a, b), float(a @ b)
    if c < -0.999999:  # opposite: turn half a circle about any axis perpendicular to a
        axis = np.cross(a, [1.0, 0.0, 0.0] if abs(a[0]) < 0.9 else [0.0, 1.0, 0.0])
        axis /= np.linalg.norm(axis)
        return np.asarray(2 * np.outer(axis, axis) - np.eye(3))
    k = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.asarray(np.eye(3) + k + k @ k / (1 + c))


def spliced_sensitivity(
    recordings: Sequence[MotionRecording], scorer: Scorer, config: FallLogicConfig | None = None, *,
    per_kind: int = 20, seed: int = 13, pre_s: float = 30.0,
) -> dict[str, Any]:
    """Simulated falls spliced into real recordings: ``pre_s`` of a real recording (trunk-worn
    sensors only), then a simulated fall from 0.3 s before its onset, turned so that its gravity
    direction matches the real one at the splice. What comes before the fall — the posture the
    logic compares with, the sensor's noise, the orientation — is real; the fall itself is simulated.
    Sensitivity per kind, at the real recording's rate (the simulation is rendered at that rate)."""
    from firmware_sim.motion import FALLS

    cfg = config or FallLogicConfig()
    trunk = [r for r in recordings if r.placement in ("waist", "lower_back", "chest", "trunk")
             and len(r.acc) > (pre_s + 5) * r.rate_hz]
    if not trunk:
        return {"recordings": [], "note": "no trunk-worn real recording long enough"}
    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {"recordings": sorted({r.name for r in trunk}), "simulated_fall_in_real_background": True}
    for kind in FALLS:
        hits, missed = 0, Counter[str]()
        for j in range(per_kind):
            rec = trunk[j % len(trunk)]
            fs = rec.rate_hz
            start = int(rng.integers(0, len(rec.acc) - round((pre_s + 1) * fs)))
            stop = start + round(pre_s * fs)
            acc, gyro, impact, onset = next(iter(simulated_falls(kind, 1, seed * 1000 + j, rate_hz=fs)))
            cut = max(0, round((onset - 0.3) * fs))
            r = _align(acc[max(0, cut - round(0.5 * fs)):cut].mean(axis=0),
                       rec.acc[stop - round(0.5 * fs):stop].mean(axis=0))
            joined_acc = np.concatenate([rec.acc[start:stop], acc[cut:] @ r.T])
            joined_gyro = None if rec.gyro is None else np.concatenate([rec.gyro[start:stop], gyro[cut:] @ r.T])
            t_impact = pre_s + (impact - cut / fs)
            decisions = run_detector(joined_acc, joined_gyro, fs, scorer, cfg)
            found = [d for d in decisions if abs(d.t_s - t_impact) <= 1.0]
            if any(d.kind == FALL for d in found):
                hits += 1
            else:
                missed[f"{rec.name}: {found[0].reason if found else 'no impact above the screen'}"] += 1
        out[kind] = {"falls": per_kind, "detected": hits, "sensitivity": hits / per_kind,
                     "missed_because": dict(missed)}
    return out
