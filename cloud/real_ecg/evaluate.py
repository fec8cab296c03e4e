"""Beat classes of an ECG ``.tflite`` on real recordings: what training and the edge would give.

:func:`evaluate_ecg` (``tflite_path`` with its metadata JSON beside it, real records) runs the shared
preprocessing on each record (conditioning, R-peaks, beat vectors; input 2 normalised where the
model's metadata says so), classifies every beat with LiteRT, and returns a JSON-able report:

* per record: beats classified, the share of each predicted class, and where the record has beat
  annotations the confusion matrix of annotated class (rows) against predicted class (columns) over
  the detected beats matched to an annotation within 150 ms;
* ``normal_called_n``: over annotated N beats, and over every beat of records whose rhythm is stated
  as normal sinus (no beat labels), the share called N;
* ``v_sensitivity``: over annotated V beats, the share called V (``None`` where no record has any);
* the floors (V sensitivity >= 90 % where annotated PVCs exist) with their verdict.

``python -m cloud.real_ecg.evaluate MODEL.tflite [--json FILE]`` prints a table and writes the JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cloud.real_ecg.fetch import DEFAULT_DEST
from cloud.real_ecg.records import RealRecord, load_all
from models.preprocessing.beats import beat_vectors, input_major, model_input, previous_beats

MATCH_S = 0.150
V_FLOOR = 0.90
#: Rhythm descriptions (lower case) that mark an unlabelled record as normal sinus rhythm.
NORMAL_RHYTHMS = ("sinus rhythm",)

Predict = Callable[[np.ndarray], np.ndarray]


def input_version(metadata: dict[str, Any]) -> str:
    """``"2"`` when the model reads :func:`normalise_beats` vectors (input major 2 of
    :mod:`models.preprocessing.beats`, as its metadata says), else ``"1"``."""
    ref = metadata.get("preprocessing", {})
    return input_major(str(ref.get("module", "")), str(ref.get("version", "1")))


def record_vectors(rec: RealRecord, version: str) -> tuple[np.ndarray, np.ndarray]:
    """``(R-peak sample indices at the record's rate, model inputs)`` of every classifiable beat."""
    t, vectors = beat_vectors(rec.signal_mv, rec.fs)
    return np.round(t * rec.fs).astype(np.int64), model_input(vectors, previous_beats(vectors), version)


def _annotated_classes(rec: RealRecord, peaks: np.ndarray) -> list[str]:
    """The annotated class of each detected beat ("" when no annotated beat is within MATCH_S)."""
    if rec.beats is None or rec.labels is None or rec.beats.size == 0:
        return [""] * peaks.size
    order = np.argsort(rec.beats)
    beats, labels = rec.beats[order], [rec.labels[i] for i in order]
    j = np.clip(np.searchsorted(beats, peaks), 1, beats.size - 1) if beats.size > 1 else np.zeros_like(peaks)
    if beats.size > 1:
        j = np.where(np.abs(beats[j - 1] - peaks) < np.abs(beats[j] - peaks), j - 1, j)
    close = np.abs(beats[j] - peaks) <= MATCH_S * rec.fs
    return [labels[k] if ok else "" for k, ok in zip(j.tolist(), close.tolist(), strict=True)]


def evaluate_predictions(predict: Predict, classes: Sequence[str], records: Sequence[RealRecord],
                         version: str) -> dict[str, Any]:
    """The report for any classifier (``predict``: inputs -> class probabilities), e.g. a float model."""
    rows = []
    n_total = n_hit = v_total = v_hit = 0
    for rec in records:
        peaks, x = record_vectors(rec, version)
        predicted = [classes[int(i)] for i in predict(x).argmax(axis=1)] if len(x) else []
        shares = {c: round(predicted.count(c) / max(1, len(predicted)), 4) for c in classes}
        row: dict[str, Any] = {"record": rec.name, "fs": rec.fs, "lead": rec.lead, "use": rec.use,
                               "rhythm": rec.rhythm, "beats_classified": len(predicted), "predicted_share": shares}
        truth = _annotated_classes(rec, peaks)
        if rec.annotated:
            matrix = {t: dict.fromkeys(classes, 0) for t in classes}
            for t, p in zip(truth, predicted, strict=True):
                if t in matrix:
                    matrix[t][p] += 1
            row["confusion"] = {t: counts for t, counts in matrix.items() if sum(counts.values())}
            n_total += sum(matrix["N"].values()) if "N" in matrix else 0
            n_hit += matrix.get("N", {}).get("N", 0)
            v_total += sum(matrix["V"].values()) if "V" in matrix else 0
            v_hit += matrix.get("V", {}).get("V", 0)
        elif any(r in rec.rhythm.lower() for r in NORMAL_RHYTHMS) and "->" not in rec.rhythm:
            row["normal_rhythm_called_n"] = shares.get("N", 0.0)
            n_total += len(predicted)
            n_hit += predicted.count("N")
        rows.append(row)
    v_sens = v_hit / v_total if v_total else None
    return {
        "records": rows,
        "normal_called_n": round(n_hit / n_total, 4) if n_total else None,
        "normal_beats": n_total,
        "v_sensitivity": round(v_sens, 4) if v_sens is not None else None,
        "v_beats": v_total,
        "floors": {"v_sensitivity": {"floor": V_FLOOR, "value": v_sens,
                                     "pass": None if v_sens is None else v_sens >= V_FLOOR}},
    }


def evaluate_ecg(tflite_path: Path, records: Sequence[RealRecord]) -> dict[str, Any]:
    """Per-record beat classes of the int8 model at ``tflite_path`` (metadata JSON beside it)."""
    from cloud.report_paths import shown_path
    from models.runtime import ModelRunner

    runner = ModelRunner(Path(tflite_path))
    meta = json.loads(Path(tflite_path).with_suffix(".json").read_text())
    version = input_version(meta)
    report = evaluate_predictions(runner.predict, runner.classes, records, version)
    return {"model": shown_path(tflite_path), "version": runner.version, "input": version,
            "preprocessing": meta.get("preprocessing"), "data": "real recordings", **report}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="beat classes of an ECG .tflite on the real recordings")
    parser.add_argument("tflite", type=Path)
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--use", nargs="*", default=["eval", "rpeak"], help="record roles to evaluate")
    args = parser.parse_args(argv)
    records = [r for r in load_all(args.dest) if r.use in args.use]
    report = evaluate_ecg(args.tflite, records)
    for r in report["records"]:
        shares = " ".join(f"{c}={v:.3f}" for c, v in r["predicted_share"].items())
        extra = f" confusion {r['confusion']}" if "confusion" in r else ""
        sys.stdout.write(f"{r['record']:28s} {r['beats_classified']:5d} beats  {shares}{extra}\n")
    sys.stdout.write(f"normal beats called N: {report['normal_called_n']} of {report['normal_beats']}; "
                     f"V sensitivity: {report['v_sensitivity']} of {report['v_beats']}\n")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
