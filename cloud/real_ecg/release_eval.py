"""Real-recording evaluation of a *released* ECG ``.tflite`` (``iomt eval ecg``; registered in
:data:`cloud.real_eval.REAL_EVALUATORS`).

It needs the ``.tflite`` with its metadata JSON beside it and real recordings, nothing else (no
trained float model): either the default cache that ``scripts/fetch_real_ecg.sh`` fills
(``build/real_data``), a folder laid out like it (``<folder>/ecg/manifest.json``), or a folder of
WFDB records (every ``*.hea``; lead MLII, else II, else the first; beat labels from a ``.atr`` beside
it where there is one). For every record it reports:

* R-peaks of the shared detector (:mod:`cloud.real_ecg.rpeaks`: what training and the edge run)
  against the annotations, else against the consensus of peer detectors: sensitivity and PPV;
* beat classes of the int8 model (:mod:`cloud.real_ecg.evaluate`): the share of each class and, where
  beats are annotated, the confusion of annotated against predicted class. Records the model was
  trained on (``use == "train"``) are left out of the class figures and named in the report.

Floors (each one a named entry of :attr:`RealEvalResult.floors`): R-peak sensitivity and PPV
>= 99.5 % on every record; V sensitivity >= 90 % on every record with annotated PVCs, and over all of
them together. ``report/real_eval.json`` holds every figure; each says it comes from real recordings.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from cloud.real_ecg.evaluate import V_FLOOR, evaluate_ecg
from cloud.real_ecg.fetch import DEFAULT_DEST
from cloud.real_ecg.records import AAMI, RealRecord, RecordError, available, load_all
from cloud.real_ecg.rpeaks import FLOOR, validate
from cloud.real_eval import RealEvalResult

log = logging.getLogger(__name__)

#: Leads taken from a WFDB record of a folder, in order of preference.
PREFERRED_LEADS = ("MLII", "II")


def folder_records(folder: Path) -> list[RealRecord]:
    """One lead of every WFDB record in ``folder`` (see the module docstring), in mV."""
    import wfdb

    records = []
    for hea in sorted(folder.glob("*.hea")):
        base = str(hea.with_suffix(""))
        try:
            rec = wfdb.rdrecord(base)
        except (ValueError, OSError) as exc:
            raise RecordError(f"{hea}: not a readable WFDB record ({exc}); fix or remove it") from None
        names = [str(n) for n in rec.sig_name]
        lead = next((n for n in PREFERRED_LEADS if n in names), names[0])
        i = names.index(lead)
        unit = str(rec.units[i]).lower()
        scale = {"mv": 1.0, "uv": 1e-3, "v": 1e3}.get(unit)
        if scale is None:
            raise RecordError(f"{hea}: lead {lead} is in {rec.units[i]!r}; give the ECG in mV, uV or V")
        beats = labels = None
        if hea.with_suffix(".atr").is_file():
            ann = wfdb.rdann(base, "atr")
            keep = [k for k, s in enumerate(ann.symbol) if s in AAMI]
            beats = np.asarray(ann.sample, dtype=np.int64)[keep]
            labels = tuple(AAMI[ann.symbol[k]] for k in keep)
        x = np.nan_to_num(np.asarray(rec.p_signal[:, i], dtype=np.float64)) * scale
        records.append(RealRecord(f"{folder.name}/{hea.stem}", folder.name, float(rec.fs), lead, x, "eval",
                                  beats=beats, labels=labels, notes=f"{unit} as the header states"))
    return records


def records_from(recordings: Path | None) -> tuple[list[RealRecord], Path | None]:
    """``(records, peer cache)`` from the default cache (``None``), a cache-like folder or a WFDB folder."""
    if recordings is None or available(recordings):
        dest = DEFAULT_DEST if recordings is None else recordings
        return load_all(dest), dest / "peers"
    if not recordings.is_dir():
        raise RecordError(f"{recordings}: no such folder; name a folder of WFDB records (.hea/.dat, beat labels"
                          " in .atr) or leave --recordings out to use the fetched cache (scripts/fetch_real_ecg.sh)")
    records = folder_records(recordings)
    if not records:
        raise RecordError(f"{recordings}: no WFDB record (*.hea) and no fetched cache (ecg/manifest.json) in it;"
                          " run scripts/fetch_real_ecg.sh or name a folder of WFDB records")
    return records, None


def evaluate_release(tflite: Path, recordings: Path | None, report: Path) -> RealEvalResult:
    """R-peaks and beat classes of the released model at ``tflite`` on real recordings; the figures go to
    ``report/real_eval.json``."""
    records, cache = records_from(recordings)
    log.info("real ECG evaluation of %s on %d records", tflite, len(records))
    rpeaks = validate(records, cache)
    held_out = [r for r in records if r.use != "train"]
    classes = evaluate_ecg(tflite, held_out)
    floors = rpeak_floors(rpeaks)
    for row in classes["records"]:
        v = row.get("confusion", {}).get("V")
        if v:
            floors[f"V sensitivity >= {V_FLOOR:.0%} on {row['record']} ({sum(v.values())} annotated PVCs)"] = (
                v.get("V", 0) / sum(v.values()) >= V_FLOOR)
    if classes["v_sensitivity"] is not None:
        floors[f"V sensitivity >= {V_FLOOR:.0%} over all {classes['v_beats']} annotated PVCs"] = (
            classes["v_sensitivity"] >= V_FLOOR)
    figures: dict[str, Any] = {
        "data": "real recordings (every figure below)",
        "recordings": "fetched cache" if cache is not None else str(recordings),
        "rpeaks": rpeaks,
        "beat_classes": classes,
        "trained_on_left_out_of_classes": [r.name for r in records if r.use == "train"],
    }
    report.mkdir(parents=True, exist_ok=True)
    out = {"model": "ecg", "floors": floors, "passed": all(floors.values()), **figures}
    (report / "real_eval.json").write_text(json.dumps(out, indent=2, default=float) + "\n")
    (report / "real_eval.md").write_text(markdown(out))
    return RealEvalResult("ecg", figures, floors)


def rpeak_floors(rpeaks: dict[str, Any]) -> dict[str, bool]:
    """One named R-peak floor per record the floor applies to; a record without a reference the peers
    agree on has none (it is listed, with the reason, under ``rpeaks["excluded"]`` and in the report)."""
    return {f"R-peak sensitivity and PPV >= {FLOOR:.1%} on {row['record']}": bool(row["pass"])
            for row in rpeaks["records"] if row["floor"] != "excluded"}


def markdown(out: dict[str, Any]) -> str:
    """The per-record tables of :func:`evaluate_release`'s report (every figure from real recordings)."""
    rp, cl = out["rpeaks"], out["beat_classes"]
    lines = ["# ECG on real recordings (real data only)", "",
             f"Recordings: {out['recordings']}. R-peaks: {rp['detector']}, preprocessing {rp['preprocessing_version']},"
             f" EC57 matching within {rp['matching']['window_s'] * 1000:.0f} ms. Floor {rp['floor']:.1%} sensitivity"
             " and PPV per record.", "", f"Scored: {rp['scored']}.", "",
             "| record | rate (Hz) | reference | beats | sensitivity | PPV | floor |", "| --- " * 7 + "|"]
    for r in rp["records"]:
        lines.append(f"| {r['record']} | {r['fs']:.0f} | {r['truth'].split(' (')[0]} | {r['beats']} | "
                     f"{r['sensitivity']:.4f} | {r['ppv']:.4f} | {_verdict(r['floor'])} |")
    scored = [r for r in rp["records"] if r["floor"] != "excluded"]
    lines += ["", f"{sum(r['pass'] for r in scored)} of {len(scored)} records the floor applies to at or above it.", ""]
    lines += [f"- not held to the floor: {e['record']}: {e['reason']}" for e in rp["excluded"]]
    lines += ["",
              "## Beat classes of the int8 model", "",
              f"Left out (trained on): {', '.join(out['trained_on_left_out_of_classes']) or 'none'}.", "",
              "| record | beats | N | S | V | F | Q | annotated class -> predicted |", "| --- " * 8 + "|"]
    for r in cl["records"]:
        shares = " | ".join(f"{r['predicted_share'].get(c, 0.0):.3f}" for c in "NSVFQ")
        confusion = "; ".join(f"{t}: " + ", ".join(f"{p} {n}" for p, n in row.items() if n)
                              for t, row in r.get("confusion", {}).items())
        lines.append(f"| {r['record']} | {r['beats_classified']} | {shares} | {confusion or 'no beat labels'} |")
    lines += ["", f"Annotated N beats and beats of normal-sinus records called N: {cl['normal_called_n']} of "
              f"{cl['normal_beats']}. Annotated V beats called V: {cl['v_sensitivity']} of {cl['v_beats']}.", "",
              "## Floors", ""]
    lines += [f"- {'held' if ok else '**below**'}: {name}" for name, ok in out["floors"].items()]
    return "\n".join(lines) + "\n"


def _verdict(floor: str) -> str:
    return "**below**" if floor == "below" else floor


def main(argv: list[str] | None = None) -> int:
    """``python -m cloud.real_ecg.release_eval [--tflite F] [--recordings DIR] [--report DIR]``: what ``iomt eval
    ecg`` runs; prints each floor and exits 1 when one fails."""
    import argparse
    import sys

    from cloud.real_eval import evaluate_real
    from models.runtime import released_paths

    parser = argparse.ArgumentParser(description="the released ECG model on real recordings")
    parser.add_argument("--tflite", type=Path, default=released_paths("ecg")[0])
    parser.add_argument("--recordings", type=Path, help="a folder of WFDB records (default: the fetched cache)")
    parser.add_argument("--report", type=Path, default=Path("build/ecg_real_eval"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    result = evaluate_real("ecg", args.tflite, args.recordings, args.report)
    for name, ok in result.floors.items():
        sys.stdout.write(f"{'ok   ' if ok else 'BELOW'} {name}\n")
    sys.stdout.write(f"{sum(result.floors.values())} of {len(result.floors)} floors held; "
                     f"report: {args.report / 'real_eval.json'}\n")
    return 0 if result.passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
