"""``iomt eval fall``: the released fall model (its ``.tflite`` alone, run by LiteRT) on real recordings
of daily activity, with the classic 2.5 g and 3.0 g + stillness rules measured in the same run, and
on simulated falls — the two kinds of figure kept apart.

Real recordings are a folder the user names (CSV/WFDB with stated units, :mod:`cloud.motion_files`),
or by default the recordings of :mod:`cloud.real_motion` that no model was trained on (fetched into
``build/real_data`` if missing). Falls exist in none of them, so they give false alarms per hour
(Garwood 95 % interval), by activity where the recording is labelled, in the worn orientation and
under a random 3-D rotation per recording; sensitivity comes from simulated falls of every kind.
The floors are :func:`cloud.eval_fall.floors`; the figures are written to ``report/real_eval.json``
and ``report/real_eval.md``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from cloud.eval_fall import evaluate_fall, litert_scorer, simulated_daily_false_alarms
from cloud.real_eval import RealEvalResult
from cloud.real_motion import MotionRecording

log = logging.getLogger(__name__)

#: simulated falls per kind in the default run (5 kinds, each with a random mount, rotated again and
#: accelerometer-only); the release report is made with this too
PER_KIND = 40
#: simulated daily activity for the false-alarm rate beside the real one: subjects x 30 min
DAILY_SUBJECTS = 6
DAILY_SECONDS = 1800.0


def recordings_for(
    recordings: Path | None, *, acc_unit: str | None = None, gyro_unit: str | None = None,
    rate_hz: float | None = None, placement: str | None = None,
) -> list[MotionRecording]:
    """The user's folder, or the fetched real recordings held out from training."""
    if recordings is not None:
        from cloud.motion_files import load_directory

        return load_directory(recordings, acc_unit=acc_unit, gyro_unit=gyro_unit, rate_hz=rate_hz,
                              placement=placement)
    from cloud import real_motion

    real_motion.fetch()
    return [r for r in real_motion.load_all() if r.use != "train"]


def evaluate(
    tflite: Path, recordings: Path | None, report: Path, *, acc_unit: str | None = None,
    gyro_unit: str | None = None, rate_hz: float | None = None, placement: str | None = None,
    per_kind: int = PER_KIND, daily_subjects: int = DAILY_SUBJECTS,
) -> RealEvalResult:
    """The registry's fall evaluator (:data:`cloud.real_eval.REAL_EVALUATORS`)."""
    recs = recordings_for(recordings, acc_unit=acc_unit, gyro_unit=gyro_unit, rate_hz=rate_hz, placement=placement)
    meta = tflite.with_suffix(".json")
    full = evaluate_fall(recs, tflite, meta if meta.is_file() else None, per_kind=per_kind)
    full["simulated_daily"] = simulated_daily_false_alarms(
        litert_scorer(tflite, meta if meta.is_file() else None), subjects=daily_subjects, seconds=DAILY_SECONDS)
    full["recordings"] = {"folder": str(recordings) if recordings else "cloud.real_motion held-out recordings",
                          "files": [{"name": r.name, "placement": r.placement, "rate_hz": r.rate_hz,
                                     "hours": round(r.hours, 4), "gyro": r.gyro is not None,
                                     "labelled": bool(r.labels)} for r in recs]}
    report.mkdir(parents=True, exist_ok=True)
    (report / "real_eval.json").write_text(json.dumps(full, indent=1) + "\n")
    figures = summary(full)
    (report / "real_eval.md").write_text(markdown(figures, full))
    floors = {name: bool(v["pass"]) for name, v in full["floors"].items() if not v.get("goal_only")}
    return RealEvalResult("fall", figures, floors)


def _rate(t: dict[str, Any]) -> dict[str, Any]:
    return {k: t[k] for k in ("alarms", "hours", "per_hour", "per_hour_95ci")}


def summary(full: dict[str, Any]) -> dict[str, Any]:
    """The headline figures, each marked real or simulated."""
    real = full["real"]["groups"]["all"]
    out: dict[str, Any] = {"real_daily_activity": {}, "simulated": {}}
    for orientation, res in real.items():
        out["real_daily_activity"][orientation] = {
            "detector": {**_rate(res["detector"]), "by_activity": res["detector"]["by_activity"],
                         "device_removed_events": res["detector"]["device_removed_events"]},
            "classic_2.5g": _rate(res["classic_2.5g"]), "classic_3.0g": _rate(res["classic_3.0g"]),
        }
    out["real_daily_activity"]["by_group"] = {
        g: {o: {m: _rate(v[m]) for m in ("detector", "classic_2.5g", "classic_3.0g")} for o, v in per.items()}
        for g, per in full["real"]["groups"].items() if g != "all"}
    for key in ("simulated_falls_random_mount", "simulated_falls_rotated", "simulated_falls_acc_only"):
        out["simulated"][key] = {k: v["sensitivity"] for k, v in full[key].items()}
    spliced = full["simulated_falls_spliced_into_real"]
    out["simulated"]["falls_spliced_into_real_background"] = {
        k: v["sensitivity"] for k, v in spliced.items() if isinstance(v, dict) and "sensitivity" in v}
    daily = full["simulated_daily"]
    out["simulated"]["daily_activity_false_alarms"] = {k: daily[k] for k in (
        "hours", "false_alarms", "per_hour", "per_hour_95ci", "by_activity")}
    out["floors"] = full["floors"]
    out["passed"] = full["passed"]
    return out


def markdown(s: dict[str, Any], full: dict[str, Any]) -> str:
    """The report a release keeps beside its model."""
    real = s["real_daily_activity"]
    lines = [
        "# Fall detector on real recordings (and simulated falls)",
        "",
        f"Model: `{full['model']}`. Recordings: {full['recordings']['folder']} "
        f"({len(full['recordings']['files'])} recordings).",
        "",
        "## False alarms per hour — REAL daily activity (no falls in these recordings)",
        "",
        "| orientation | method | alarms | hours | per hour | 95 % interval |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for orientation in ("worn", "rotated"):
        for method in ("detector", "classic_2.5g", "classic_3.0g"):
            r = real[orientation][method]
            lines.append(f"| {orientation} | {method} | {r['alarms']} | {r['hours']} | {r['per_hour']} | "
                         f"{r['per_hour_95ci'][0]}–{r['per_hour_95ci'][1]} |")
    lines += ["", "Detector alarms by activity (worn): " + (json.dumps(real["worn"]["detector"]["by_activity"])
                                                           or "none"),
              f"Device-removed events (worn): {real['worn']['detector']['device_removed_events']}", "",
              "Per recording group (worn; detector / 2.5 g / 3.0 g alarms):", ""]
    for g, per in real["by_group"].items():
        w = per.get("worn", {})
        if w:
            lines.append(f"- {g}: {w['detector']['alarms']} / {w['classic_2.5g']['alarms']} / "
                         f"{w['classic_3.0g']['alarms']} in {w['detector']['hours']} h")
    sim = s["simulated"]
    daily = sim["daily_activity_false_alarms"]
    lines += [
        "", "## SIMULATED (firmware_sim): falls and daily activity", "",
        f"False alarms on simulated daily activity: {daily['false_alarms']} in {daily['hours']} h "
        f"({daily['per_hour']}/h, 95 % {daily['per_hour_95ci'][0]}–{daily['per_hour_95ci'][1]}).", "",
        "| fall kind | random mount | rotated again | accelerometer only | spliced into real background |",
        "| --- | --- | --- | --- | --- |",
    ]
    for kind, v in sim["simulated_falls_random_mount"].items():
        lines.append(f"| {kind} | {v:.3f} | {sim['simulated_falls_rotated'][kind]:.3f} | "
                     f"{sim['simulated_falls_acc_only'][kind]:.3f} | "
                     f"{sim['falls_spliced_into_real_background'].get(kind, float('nan')):.3f} |")
    lines += ["", "## Floors", "", "| floor | held |", "| --- | --- |"]
    for name, v in s["floors"].items():
        held = "yes" if v["pass"] else "**NO**"
        lines.append(f"| {name}{' (goal, not a floor)' if v.get('goal_only') else ''} | {held} |")
    lines += ["", full["note"], ""]
    return "\n".join(lines)
