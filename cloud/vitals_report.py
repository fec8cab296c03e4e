"""The vitals risk model's agreement with NEWS2, for its report (``iomt eval vitals``).

Two questions, both on **simulated** patients and always against NEWS2 scored on the *true* vitals
(the simulator's ground truth, before measurement noise):

1. **Held-out patients** (the test split): accuracy, Cohen's kappa (plain and quadratic-weighted) and
   the confusion matrix of the float and int8 models; beside them, what NEWS2 itself gives when it
   is scored on what the monitor measured (the last single reading, as a gateway scoring every
   reading does, and the median of the last 30 s), so the model's figure has a yardstick.
2. **Scripted deteriorations**: held-out personas each go through a sepsis-like, a respiratory and a
   haemorrhage course, at a ward's pace and compressed to minutes as in the demo; for each, when the
   model's class first reaches ``medium`` and ``high`` compared with when NEWS2 on the true vitals
   reaches that band (positive lead: the model is earlier), and how often it rose before the course
   began (a false early warning).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from cloud.data import Dataset
from cloud.labels import risk_labels, vitals_windows
from cloud.metrics import cohen_kappa, confusion
from models.clinical.risk import RISK_CLASSES
from models.preprocessing import vitals as prep

#: Course durations (onset to worst, s) the scripted analysis runs at: a ward's pace and the demo's.
PACES = {"ward": {"sepsis": 8 * 3600.0, "respiratory": 6 * 3600.0, "haemorrhage": 2 * 3600.0},
         "compressed": {"sepsis": 600.0, "respiratory": 600.0, "haemorrhage": 600.0}}
STABLE_BEFORE_S = 3600.0
PERSONAS_PER_COURSE = 12
MEDIUM, HIGH = RISK_CLASSES.index("medium"), RISK_CLASSES.index("high")


def _agreement(y: np.ndarray, pred: np.ndarray) -> dict[str, Any]:
    cm = confusion(y, pred, len(RISK_CLASSES))
    return {
        "n": len(y),
        "accuracy": float((y == pred).mean()) if len(y) else 0.0,
        "cohen_kappa": cohen_kappa(cm),
        "quadratic_kappa": cohen_kappa(cm, "quadratic"),
        "confusion": cm.tolist(),
    }


def _test_recordings(ds: Dataset) -> list[Any]:
    """The test subjects' recordings again (the simulator is deterministic from the profile's seed)."""
    from firmware_sim.dataset import generate

    gen = ds.card["generation"]
    test = set(ds.subjects["test"])
    found = {r.subject: r for r in generate("vitals", gen["subjects"], gen["seconds"], gen["seed"])
             if r.subject in test}
    return [found[s] for s in ds.subjects["test"]]  # the dataset's order


def _news2_on_measured(recs: list[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per window of the test recordings: truth class, NEWS2 class of the last single measured reading,
    NEWS2 class of the last 30-s medians."""
    truth, single, median = [], [], []
    for rec in recs:
        _, y, ends = vitals_windows(rec, RISK_CLASSES)
        t = np.arange(len(rec.signals["vitals"])) / rec.rates["vitals"]
        measured = np.asarray(rec.signals["vitals"], dtype=np.float64)
        last = np.searchsorted(t, ends + 1e-9, side="right") - 1
        rows = measured[last].copy()
        rows[:, 1] = np.minimum(rows[:, 1], 100.0)
        steps = np.stack([prep.step_values(t, measured, float(e))[-1] for e in ends])
        steps[:, -1] = np.floor(steps[:, -1] + 0.5)  # a median between two ACVPU codes: the worse one
        truth.append(y)
        single.append(risk_labels(np.round(rows, 1), RISK_CLASSES))
        median.append(risk_labels(steps, RISK_CLASSES))
    return np.concatenate(truth), np.concatenate(single), np.concatenate(median)


def _first(classes: np.ndarray, ends: np.ndarray, level: int, after: float) -> float | None:
    hit = np.flatnonzero((classes >= level) & (ends >= after))
    return float(ends[hit[0]]) if len(hit) else None


def _course_runs(runner: Any, subjects: list[str], seed: int) -> dict[str, Any]:
    """Scripted courses on held-out personas; per pace and course, the model's lead over NEWS2."""
    from firmware_sim.deterioration import Course, CoursePlan
    from firmware_sim.persona import make_persona
    from firmware_sim.rates import REALISTIC
    from firmware_sim.vitals import VitalsGenerator

    quiet = replace(REALISTIC, deteriorations_per_patient_hour=0.0)
    indices = [int(s[1:]) for s in subjects][:PERSONAS_PER_COURSE]
    out: dict[str, Any] = {}
    for pace, durations in PACES.items():
        for kind, duration in durations.items():
            leads: dict[str, list[float]] = {"medium": [], "high": []}
            missed = {"medium": 0, "high": 0}
            early = 0
            agree_y, agree_p = [], []
            for index in indices:
                persona = make_persona(seed, index)
                plan = CoursePlan(quiet, np.random.default_rng([seed, index, 77]),
                                  forced=[Course(kind, STABLE_BEFORE_S, duration, 1.0, forced=True)])
                gen = VitalsGenerator(persona, np.random.default_rng([seed, index, 78]), plan)
                seconds = STABLE_BEFORE_S + duration * 1.25
                block = gen.render(np.arange(seconds))
                t = block.t
                ends = np.arange(prep.HOP_S, seconds, prep.HOP_S if pace == "ward" else 15.0)
                x, kept = prep.windows(t, block.measured, ends)
                last = np.searchsorted(t, kept + 1e-9, side="right") - 1
                truth = risk_labels(block.truth[last], RISK_CLASSES)
                pred = runner.predict(x).argmax(axis=1)
                agree_y.append(truth)
                agree_p.append(pred)
                if (pred[kept < STABLE_BEFORE_S] >= MEDIUM).any():
                    early += 1
                for name, level in (("medium", MEDIUM), ("high", HIGH)):
                    t_truth = _first(truth, kept, level, STABLE_BEFORE_S)
                    t_model = _first(pred, kept, level, STABLE_BEFORE_S)
                    if t_truth is None:
                        continue
                    if t_model is None:
                        missed[name] += 1
                    else:
                        leads[name].append((t_truth - t_model) / 60.0)
            agreement = _agreement(np.concatenate(agree_y), np.concatenate(agree_p))
            out[f"{pace}/{kind}"] = {
                "pace": pace,
                "course": kind,
                "duration_s": duration,
                "personas": len(indices),
                "window_every_s": prep.HOP_S if pace == "ward" else 15.0,
                "lead_min": {k: _summary(v) for k, v in leads.items()},
                "never_reached": missed,
                "rose_to_medium_before_onset": early,
                "agreement": {k: agreement[k] for k in ("n", "accuracy", "cohen_kappa")},
            }
    return out


def _summary(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"n": 0, "median": None, "min": None, "max": None}
    arr = np.asarray(values)
    return {"n": len(arr), "median": round(float(np.median(arr)), 2), "min": round(float(arr.min()), 2),
            "max": round(float(arr.max()), 2)}


def news2_agreement(ds: Dataset, float_model: Any, runner: Any, report_dir: Path) -> dict[str, Any]:
    """Write ``news2_agreement.json`` and return it (also merged into ``metrics.json`` and report.md)."""
    x, y = ds.x["test"], ds.y["test"]
    p_float = np.asarray(float_model.predict(x, verbose=0)).argmax(axis=1)
    p_int8 = runner.predict(x).argmax(axis=1)
    recs = _test_recordings(ds)
    truth, single, median = _news2_on_measured(recs)
    if len(truth) != len(y) or not np.array_equal(truth, y):
        raise RuntimeError("regenerated test recordings do not match the cached dataset: rebuild it (--rebuild-data)")
    result: dict[str, Any] = {
        "reference": "NEWS2 (RCP 2017) scored on the simulator's true vitals at each window's last reading",
        "data": "simulated patients only (held-out test subjects); no real patient data",
        "held_out": {
            "int8_model": _agreement(y, p_int8),
            "float_model": _agreement(y, p_float),
            "news2_on_last_measured_reading": _agreement(y, single),
            "news2_on_last_30s_median": _agreement(y, median),
        },
        "scripted_courses": _course_runs(runner, ds.subjects["test"], int(ds.card["generation"]["seed"])),
    }
    (report_dir / "news2_agreement.json").write_text(json.dumps(result, indent=2) + "\n")
    metrics_path = report_dir / "metrics.json"
    metrics = json.loads(metrics_path.read_text())
    metrics["news2_agreement"] = result
    metrics_path.write_text(json.dumps(metrics, indent=2) + "\n")
    with (report_dir / "report.md").open("a") as f:
        f.write(markdown(result))
    return result


def markdown(result: dict[str, Any]) -> str:
    held = result["held_out"]
    names = {"int8_model": "vitals model, int8", "float_model": "vitals model, float",
             "news2_on_last_measured_reading": "NEWS2 on the last measured reading",
             "news2_on_last_30s_median": "NEWS2 on the last 30 s median of the readings"}
    lines = ["", "## Agreement with NEWS2 (simulated patients only)", "",
             f"Reference: {result['reference']}. {result['data'].capitalize()}.", "",
             "| rater | windows | accuracy | Cohen's kappa | quadratic kappa |", "| --- | --- | --- | --- | --- |"]
    for key, label in names.items():
        a = held[key]
        lines.append(f"| {label} | {a['n']} | {100 * a['accuracy']:.2f} % | {a['cohen_kappa']:.3f} |"
                     f" {a['quadratic_kappa']:.3f} |")
    lines += ["", "Confusion of the int8 model (rows: NEWS2 on the true vitals; columns: model; "
              + ", ".join(RISK_CLASSES) + "):", "", "```"]
    lines += ["  ".join(f"{v:6d}" for v in row) for row in held["int8_model"]["confusion"]]
    lines += ["```", "", "## Scripted deteriorations (held-out personas, int8 model)", "",
              "Lead = minutes by which the model's class reaches the band before NEWS2 on the true vitals does "
              "(negative: later); median [min, max] over personas. Windows every minute at a ward's pace, every "
              "15 s when compressed.", "",
              "| pace | course | onset to worst | lead to medium (min) | lead to high (min) | never reached "
              "(medium/high) | rose before onset | accuracy | kappa |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for run in result["scripted_courses"].values():
        def fmt(s: dict[str, Any]) -> str:
            return "n/a" if s["median"] is None else f"{s['median']:+.1f} [{s['min']:+.1f}, {s['max']:+.1f}]"

        lines.append(
            f"| {run['pace']} | {run['course']} | {run['duration_s'] / 60:.0f} min | {fmt(run['lead_min']['medium'])}"
            f" | {fmt(run['lead_min']['high'])} | {run['never_reached']['medium']}/{run['never_reached']['high']}"
            f" of {run['personas']} | {run['rose_to_medium_before_onset']} of {run['personas']} |"
            f" {100 * run['agreement']['accuracy']:.1f} % | {run['agreement']['cohen_kappa']:.3f} |")
    return "\n".join(lines) + "\n"
