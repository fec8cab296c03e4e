"""R-peak validation on real recordings: the shared detector, run as training and the edge run it,
against the annotations where a record has them, else against the peers' consensus.

``python -m cloud.real_ecg.rpeaks [--json FILE] [--only NAME...]`` prints one line per record and
writes JSON: per record ``sensitivity``, ``ppv``, ``beats`` (reference beats), ``truth`` (the source
of truth: ``annotations`` or ``peer consensus``), the matched/missed/extra counts, and each peer's own
figures against the same reference. The floor is 99.5 % sensitivity and PPV on every record.

Matching follows ANSI/AAMI EC57 (as WFDB's ``bxb``): a detection within :data:`MATCH_S` (150 ms) of
a reference beat matches it, one to one; reference beats within :data:`EDGE_S` of either end of the
record are left out (no detector can place a beat it sees only half of), and so are unmatched
detections there; the matching itself runs over the whole record (:func:`score`), so a beat just
inside the edge that a detector places a few milliseconds outside it counts as found, not as missed.
Only annotations that are beats are a reference (WFDB beat codes, :data:`cloud.real_ecg.records.AAMI`;
rhythm, noise and artefact marks such as ``|`` and ``~`` are not beats, as in EC57), and detections at
an annotation that marks an artefact rather than a beat (ISHNE's ``X``) are left out: the annotators
could not say whether a beat is there.

The figures (and the floor) are those of what the edge emits: the edge checks the signal quality of the
last :data:`~edge.ecg_pipeline.QUALITY_S` seconds before it searches (:func:`edge.dsp.quality.ecg_quality`:
lead off, flat line, saturation, motion artefact) and does not search when that fails, so a detection
is an edge output only where a run that passes would emit it (:func:`edge_emits`). Detections the
edge would not emit are dropped; reference beats there stay in the reference (a beat the edge does not
emit is a miss). The detector's own figures, without the gate, are reported beside them
(``detector_alone``). Cross-checked against the edge pipeline itself on two real leads (fed 0.5 s
frames): see ``models/ecg/report/rpeaks_review.md``.

Where the reference is the peers' consensus it must be one the peers agree with
(:func:`cloud.real_ecg.peers.reliable`); a record where it is not is reported with its figures and the
reason, ``"floor": "excluded"``, and listed under ``excluded``; it is never silently dropped. The
command exits 1 when a record the floor applies to is below it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cloud.real_ecg.fetch import DEFAULT_DEST
from cloud.real_ecg.peers import MIN_AGREE, PEERS, RELIABLE, agreeing, consensus, peer_peaks, reliable
from cloud.real_ecg.records import RealRecord, load_all
from edge.dsp.ecg import DETECTION_TAIL, FIRST_SPAN_S, aligned_start, alignment_step
from edge.dsp.quality import ecg_quality_many
from edge.ecg_pipeline import QUALITY_S
from models.preprocessing import PREPROCESSING_VERSION
from models.preprocessing.beats import AFTER, ECG_RATE_HZ, condition
from models.preprocessing.ecg import detect_r_peaks

MATCH_S = 0.150
EDGE_S = 1.0
FLOOR = 0.995
#: How often the edge's runs are taken to come (a device's frames; a run may come on every frame).
RUN_STEP_S = 0.1

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Match:
    matched: int
    missed: int
    extra: int

    @property
    def sensitivity(self) -> float:
        total = self.matched + self.missed
        return self.matched / total if total else 1.0

    @property
    def ppv(self) -> float:
        total = self.matched + self.extra
        return self.matched / total if total else 1.0


def pairs(reference: np.ndarray, found: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one matching of sample indices within ``tol`` samples (nearest first in time order):
    ``(reference, found)`` of the matched pairs, both sorted."""
    ref = np.sort(np.asarray(reference, dtype=np.float64))
    det = np.sort(np.asarray(found, dtype=np.float64))
    i = j = 0
    ref_hit: list[float] = []
    det_hit: list[float] = []
    while i < ref.size and j < det.size:
        d = det[j] - ref[i]
        if abs(d) <= tol:
            # the next detection may be closer to this reference beat: prefer it, leave this one extra
            if j + 1 < det.size and abs(det[j + 1] - ref[i]) < abs(d) and not (
                i + 1 < ref.size and abs(det[j + 1] - ref[i + 1]) <= abs(det[j + 1] - ref[i])
            ):
                j += 1
                continue
            ref_hit.append(ref[i])
            det_hit.append(det[j])
            i += 1
            j += 1
        elif d < 0:
            j += 1
        else:
            i += 1
    return np.asarray(ref_hit), np.asarray(det_hit)


def match(reference: np.ndarray, found: np.ndarray, tol: float) -> Match:
    """One-to-one matching of sorted sample indices within ``tol`` samples (nearest first in time order)."""
    ref_hit, _ = pairs(reference, found, tol)
    return Match(ref_hit.size, np.size(reference) - ref_hit.size, np.size(found) - ref_hit.size)


def score(reference: np.ndarray, found: np.ndarray, tol: float, lo: float, hi: float) -> Match:
    """EC57 counts with the record's ends left out: matched over the whole record, then counted for
    reference beats in ``[lo, hi)`` (found or missed) and unmatched detections in ``[lo, hi)`` (extra)."""
    ref = np.asarray(reference, dtype=np.float64)
    det = np.asarray(found, dtype=np.float64)
    ref_hit, det_hit = pairs(ref, det, tol)
    inside_ref = (ref >= lo) & (ref < hi)
    matched = int(np.count_nonzero((ref_hit >= lo) & (ref_hit < hi)))
    unmatched = np.setdiff1d(det, det_hit) if det_hit.size else det
    extra = int(np.count_nonzero((unmatched >= lo) & (unmatched < hi)))
    return Match(matched, int(np.count_nonzero(inside_ref)) - matched, extra)


def detect(signal_mv: np.ndarray, fs: float) -> np.ndarray:
    """R-peaks (sample indices at ``fs``) as training and the edge find them: conditioned and resampled
    to the model rate, then :func:`models.preprocessing.ecg.detect_r_peaks`."""
    peaks = detect_r_peaks(condition(signal_mv, fs), ECG_RATE_HZ)
    return np.round(peaks * fs / ECG_RATE_HZ).astype(np.int64)


def edge_emits(signal_mv: np.ndarray, fs: float, found: np.ndarray) -> np.ndarray:
    """Which detections ``found`` (sorted sample indices at ``fs``) the edge would emit, as its runs gate
    them (:class:`edge.ecg_pipeline.EcgPipeline`), runs taken :data:`RUN_STEP_S` apart.

    A run searches only when the :data:`~edge.ecg_pipeline.QUALITY_S` seconds before it pass the quality
    check (:func:`edge.dsp.quality.ecg_quality` on the raw samples at the device's rate). A refused run
    forgets the R-peak history, and no later search reaches before the end of the window it refused
    (rounded up to a whole model-rate index, :func:`edge.dsp.ecg.aligned_start`); the first search after it
    waits until :data:`~edge.dsp.ecg.FIRST_SPAN_S` of signal from there is in, and spans that much. A
    device's first run, too, comes once it holds FIRST_SPAN_S (no run before it refuses anything).

    So a beat (which needs its predecessor, the detection before it) is emitted by the first run that holds
    its waveform (:data:`~models.preprocessing.beats.AFTER`) and the next R-peak
    (:data:`~edge.dsp.ecg.DETECTION_TAIL` after it) if that run passes and no run refused signal after its
    predecessor; if that run still waits after a refusal before the predecessor, by the first search after
    the wait, if every run until then passes and the predecessor lies in the FIRST_SPAN_S it searches. A
    beat whose run is refused is never emitted (every later search starts after it). The first detection
    has no predecessor and is taken as its own."""
    found = np.asarray(found, dtype=np.int64)
    if found.size == 0:
        return np.zeros(0, dtype=bool)
    x = np.asarray(signal_mv, dtype=np.float64)
    width, step = round(QUALITY_S * fs), max(1, round(RUN_STEP_S * fs))
    first_span, align = round(FIRST_SPAN_S * fs), alignment_step(fs)
    tail, after = round(DETECTION_TAIL / ECG_RATE_HZ * fs), round(AFTER / ECG_RATE_HZ * fs)
    first_run = np.minimum(np.maximum(found + after, np.r_[found[1:], found[-1]] + tail), x.size)
    before = np.r_[found[0], found[:-1]]

    def refused(runs: np.ndarray) -> np.ndarray:
        """The runs (the samples they end at) that are refused; a device's runs start at ``first_span``, so
        each checks a whole window."""
        runs = runs[runs >= max(first_span, width)]
        if runs.size == 0:
            return runs
        verdicts = ecg_quality_many(np.stack([x[end - width : end] for end in runs.tolist()]), fs)
        return runs[np.asarray([v is not None for v in verdicts], dtype=bool)]

    out = np.zeros(found.size, dtype=bool)
    for i, (a, q) in enumerate(zip(first_run.tolist(), before.tolist(), strict=True)):
        # the latest run up to the beat's first that was refused (far enough back that an earlier one's
        # wait is over by then); none: the device's start, whose first run waits as after a refusal
        lo = min(q, a - first_span - align)
        earlier = refused(np.arange(a, lo, -step))
        clean_from = aligned_start(int(earlier[0]), fs) if earlier.size else 0
        if clean_from > q:  # refused after the predecessor: no search holds both again
            continue
        searchable = clean_from + first_span
        if searchable <= a:
            out[i] = True
            continue
        end = a + -(-(searchable - a) // step) * step  # the first run after the wait
        out[i] = end <= x.size and q >= end - first_span and refused(np.arange(a + step, end + 1, step)).size == 0
    return out


def _peers_cached(rec: RealRecord, cache: Path | None) -> dict[str, np.ndarray]:
    key = hashlib.sha256(rec.signal_mv.tobytes() + f"{rec.fs} {PEERS}".encode()).hexdigest()[:16]
    path = cache / f"{rec.name.replace('/', '__').replace(':', '_')}-{key}.json" if cache else None
    if path is not None and path.is_file():
        return {k: np.asarray(v, dtype=np.int64) for k, v in json.loads(path.read_text()).items()}
    peaks = peer_peaks(rec.signal_mv, rec.fs)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({k: v.tolist() for k, v in peaks.items()}))
    return peaks


@dataclass(frozen=True, slots=True)
class Reference:
    """What a record's detections are scored against: ``beats`` (sample indices), and ``ignore``, the
    annotations that mark no beat (artefacts: EC57 leaves those places out)."""

    beats: np.ndarray
    ignore: np.ndarray
    annotated: bool

    def outside_ignored(self, found: np.ndarray, tol: float) -> np.ndarray:
        """``found`` less the detections within ``tol`` samples of an ignored place."""
        found = np.asarray(found, dtype=np.int64)
        if self.ignore.size and found.size:
            found = found[np.abs(found[:, None] - self.ignore[None, :]).min(axis=1) > tol]
        return found


def reference_of(rec: RealRecord, peers: dict[str, np.ndarray]) -> Reference:
    """The record's beat annotations (only WFDB beat codes are beats), else the consensus of ``peers``."""
    if rec.beats is not None and rec.labels is not None:
        labelled = np.asarray([bool(label) for label in rec.labels])
        return Reference(rec.beats[labelled], rec.beats[~labelled], True)
    return Reference(consensus(peers, rec.fs), np.zeros(0, dtype=np.int64), False)


def validate_record(rec: RealRecord, cache: Path | None = None) -> dict[str, Any]:
    """Sensitivity and PPV of the shared detector on one record, with the peers' for comparison."""
    n, fs = rec.signal_mv.size, rec.fs
    peers = _peers_cached(rec, cache)
    ref = reference_of(rec, peers)
    truth = "annotations" if ref.annotated else \
        f"peer consensus (>= {MIN_AGREE} of {len(PEERS)}: {', '.join(PEERS)}, within 50 ms)"
    tol = MATCH_S * fs
    lo, hi = EDGE_S * fs, n - EDGE_S * fs

    def counted(found: np.ndarray) -> Match:
        """EC57 counts of ``found``, less detections at an annotation marked artefact (EC57 leaves such
        places out: neither a beat to find nor an extra detection)."""
        return score(ref.beats, ref.outside_ignored(found, tol), tol, lo, hi)

    found = detect(rec.signal_mv, fs)
    emitted = edge_emits(rec.signal_mv, fs, found)
    alone = counted(found)
    ours = counted(found[emitted])
    scores = {name: counted(peaks) for name, peaks in peers.items()}
    held = ours.sensitivity >= FLOOR and ours.ppv >= FLOOR
    out: dict[str, Any] = {
        "record": rec.name, "source": rec.source, "fs": fs, "seconds": round(rec.seconds, 1), "lead": rec.lead,
        "rhythm": rec.rhythm, "truth": truth, "beats": ours.matched + ours.missed,
        "sensitivity": round(ours.sensitivity, 5), "ppv": round(ours.ppv, 5),
        "matched": ours.matched, "missed": ours.missed, "extra": ours.extra,
        "edge_refused": int(np.count_nonzero(~emitted)),
        "detector_alone": {"sensitivity": round(alone.sensitivity, 5), "ppv": round(alone.ppv, 5),
                           "missed": alone.missed, "extra": alone.extra},
        "floor": "held" if held else "below", "pass": held, "excluded_because": None,
        "peers": {name: {"sensitivity": round(m.sensitivity, 5), "ppv": round(m.ppv, 5)} for name, m in scores.items()},
    }
    if truth != "annotations":
        figures = {name: (m.sensitivity, m.ppv) for name, m in scores.items()}
        out["agreeing_peers"] = agreeing(figures)
        if not reliable(figures):
            out.update(floor="excluded", excluded_because=(
                f"no reference: only {len(out['agreeing_peers'])} of {len(PEERS)} peers reach {RELIABLE:.0%} "
                f"sensitivity and PPV against their own consensus ({', '.join(out['agreeing_peers']) or 'none'}; "
                f"{MIN_AGREE} needed)"))
    if rec.shipped_peaks is not None:
        m = counted(rec.shipped_peaks)
        out["peers"]["shipped with the record"] = {"sensitivity": round(m.sensitivity, 5), "ppv": round(m.ppv, 5)}
    return out


def validate(records: list[RealRecord], cache: Path | None = None) -> dict[str, Any]:
    """The JSON report over ``records``: per record, then the worst record the floor applies to, the
    records it does not apply to (with the reason) and the floor verdict."""
    rows = [validate_record(rec, cache) for rec in records]
    scored = [r for r in rows if r["floor"] != "excluded"]
    return {
        "data": "real recordings (every figure)",
        "detector": "models.preprocessing.ecg.detect_r_peaks after models.preprocessing.beats.condition",
        "scored": "what the edge emits (cloud.real_ecg.rpeaks.edge_emits): a detection counts only where a run of "
                  f"the edge whose quality check (edge.dsp.quality.ecg_quality on the {QUALITY_S:.0f} s before it) "
                  "passes would emit it, and only where neither the beat nor the beat before it lies in signal a "
                  "refused run checked (no search reaches back into it; the first after it waits for "
                  f"{FIRST_SPAN_S:.0f} s of signal); reference beats there stay (missed if not emitted)",
        "preprocessing_version": PREPROCESSING_VERSION,
        "matching": {"window_s": MATCH_S, "edges_left_out_s": EDGE_S, "standard": "ANSI/AAMI EC57 beat matching"},
        "reference_rule": {"annotations": "beat annotations only (WFDB beat codes); detections at an annotated "
                                          "artefact left out",
                           "peer_consensus": f">= {MIN_AGREE} of {len(PEERS)} peers within 50 ms; a reference only "
                                             f"where >= {MIN_AGREE} peers reach {RELIABLE:.0%} sensitivity and PPV "
                                             "against it"},
        "floor": FLOOR,
        "records": rows,
        "excluded": [{"record": r["record"], "reason": r["excluded_because"]}
                     for r in rows if r["floor"] == "excluded"],
        "min_sensitivity": min((r["sensitivity"] for r in scored), default=None),
        "min_ppv": min((r["ppv"] for r in scored), default=None),
        "all_pass": all(r["pass"] for r in scored),
    }


def markdown(report: dict[str, Any]) -> str:
    """The per-lead table of :func:`validate`'s report (every figure from real recordings)."""
    lines = ["# R-peaks of the shared detector on real recordings (real data only)", "",
             f"Detector: {report['detector']}, preprocessing {report['preprocessing_version']}. EC57 matching within "
             f"{report['matching']['window_s'] * 1000:.0f} ms, {report['matching']['edges_left_out_s']:.0f} s at each "
             f"end left out. Floor: {report['floor']:.1%} sensitivity and PPV on every lead.", "",
             f"Reference: {report['reference_rule']['annotations']}; else the "
             f"{report['reference_rule']['peer_consensus']}.", "",
             f"Scored: {report['scored']}. 'refused': detections the edge's quality check refuses; 'alone': "
             "the detector's sensitivity / PPV without that check.",
             "", "| lead | rate (Hz) | s | reference | beats | sensitivity | PPV | missed | extra | refused | alone | "
             "floor |",
             "| --- " * 12 + "|"]
    for r in report["records"]:
        lines.append(f"| {r['record']} | {r['fs']:.0f} | {r['seconds']:.0f} | {r['truth'].split(' (')[0]} | "
                     f"{r['beats']} | "
                     f"{r['sensitivity']:.4f} | {r['ppv']:.4f} | {r['missed']} | {r['extra']} | "
                     f"{r['edge_refused']} | {r['detector_alone']['sensitivity']:.4f} / "
                     f"{r['detector_alone']['ppv']:.4f} | "
                     f"{'**below**' if r['floor'] == 'below' else r['floor']} |")
    scored = [r for r in report["records"] if r["floor"] != "excluded"]
    lines += ["", f"{sum(r['pass'] for r in scored)} of {len(scored)} leads the floor applies to hold it; "
              f"lowest sensitivity {report['min_sensitivity']}, lowest PPV {report['min_ppv']}.", ""]
    if report["excluded"]:
        lines += ["Leads the floor does not apply to (figures above, for information):", ""]
        lines += [f"- {e['record']}: {e['reason']}" for e in report["excluded"]]
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m cloud.real_ecg.rpeaks``: prints a line per lead, writes the JSON and markdown reports,
    exits 1 when a lead the floor applies to is below it."""
    parser = argparse.ArgumentParser(description="R-peak sensitivity/PPV of the shared detector on real ECG")
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST, help="where the fetch script put the data")
    parser.add_argument("--json", type=Path, help="write the report here")
    parser.add_argument("--report", type=Path, help="write the per-lead table rpeaks.md into this folder (the "
                        "released one: models/ecg/report; its figures are also in real_eval.json there)")
    parser.add_argument("--only", nargs="*", help="record names (or prefixes) to validate")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    records = [r for r in load_all(args.dest) if not args.only or any(r.name.startswith(o) for o in args.only)]
    report = validate(records, args.dest / "peers")
    for r in report["records"]:
        peers = " ".join(f"{k}={v['sensitivity']:.3f}/{v['ppv']:.3f}" for k, v in r["peers"].items())
        verdict = {"held": "ok", "below": "BELOW", "excluded": "EXCLUDED"}[r["floor"]]
        sys.stdout.write(f"{r['record']:28s} {r['fs']:6.0f} Hz {r['beats']:5d} beats  sens {r['sensitivity']:.4f}  "
                         f"PPV {r['ppv']:.4f}  miss {r['missed']:2d} extra {r['extra']:2d} "
                         f"refused {r['edge_refused']:2d}  {verdict}  "
                         f"[{r['truth'][:11]}] peers {peers}\n")
    for e in report["excluded"]:
        sys.stdout.write(f"excluded from the floor: {e['record']}: {e['reason']}\n")
    sys.stdout.write(f"min sensitivity {report['min_sensitivity']}, min PPV {report['min_ppv']}, "
                     f"all pass: {report['all_pass']}\n")
    text = json.dumps(report, indent=2) + "\n"
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text)
    if args.report:
        args.report.mkdir(parents=True, exist_ok=True)
        (args.report / "rpeaks.md").write_text(markdown(report))
    return 0 if report["all_pass"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
