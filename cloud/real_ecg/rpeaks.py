"""R-peak validation on real recordings: the shared detector, run as training and the edge run it,
against the annotations where a record has them, else against the peers' consensus.

``python -m cloud.real_ecg.rpeaks [--json FILE] [--only NAME...]`` prints one line per record and
writes JSON: per record ``sensitivity``, ``ppv``, ``beats`` (reference beats), ``truth`` (the source
of truth: ``annotations`` or ``peer consensus``), the matched/missed/extra counts, and each peer's own
figures against the same reference. The floor is 99.5 % sensitivity and PPV on every record.

Matching follows ANSI/AAMI EC57 (as WFDB's ``bxb``): a detection within :data:`MATCH_S` (150 ms) of
a reference beat matches it, one to one; beats and detections within :data:`EDGE_S` of either end of
the record are left out (no detector can place a beat it sees only half of), and so are detections at
an annotation that marks an artefact rather than a beat (ISHNE's ``X``): the annotators could not
say whether a beat is there.
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
from cloud.real_ecg.peers import MIN_AGREE, PEERS, consensus, peer_peaks
from cloud.real_ecg.records import RealRecord, load_all
from models.preprocessing import PREPROCESSING_VERSION
from models.preprocessing.beats import ECG_RATE_HZ, condition
from models.preprocessing.ecg import detect_r_peaks

MATCH_S = 0.150
EDGE_S = 1.0
FLOOR = 0.995

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


def match(reference: np.ndarray, found: np.ndarray, tol: float) -> Match:
    """One-to-one matching of sorted sample indices within ``tol`` samples (nearest first in time order)."""
    ref = np.sort(np.asarray(reference, dtype=np.float64))
    det = np.sort(np.asarray(found, dtype=np.float64))
    i = j = matched = 0
    while i < ref.size and j < det.size:
        d = det[j] - ref[i]
        if abs(d) <= tol:
            # the next detection may be closer to this reference beat: prefer it, leave this one extra
            if j + 1 < det.size and abs(det[j + 1] - ref[i]) < abs(d) and not (
                i + 1 < ref.size and abs(det[j + 1] - ref[i + 1]) <= abs(det[j + 1] - ref[i])
            ):
                j += 1
                continue
            matched += 1
            i += 1
            j += 1
        elif d < 0:
            j += 1
        else:
            i += 1
    return Match(matched, ref.size - matched, det.size - matched)


def detect(signal_mv: np.ndarray, fs: float) -> np.ndarray:
    """R-peaks (sample indices at ``fs``) as training and the edge find them: conditioned and resampled
    to the model rate, then :func:`models.preprocessing.ecg.detect_r_peaks`."""
    peaks = detect_r_peaks(condition(signal_mv, fs), ECG_RATE_HZ)
    return np.round(peaks * fs / ECG_RATE_HZ).astype(np.int64)


def _inside(peaks: np.ndarray, n: int, fs: float) -> np.ndarray:
    edge = EDGE_S * fs
    return peaks[(peaks >= edge) & (peaks < n - edge)]


def _peers_cached(rec: RealRecord, cache: Path | None) -> dict[str, np.ndarray]:
    key = hashlib.sha256(rec.signal_mv.tobytes() + str(rec.fs).encode()).hexdigest()[:16]
    path = cache / f"{rec.name.replace('/', '__').replace(':', '_')}-{key}.json" if cache else None
    if path is not None and path.is_file():
        return {k: np.asarray(v, dtype=np.int64) for k, v in json.loads(path.read_text()).items()}
    peaks = peer_peaks(rec.signal_mv, rec.fs)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({k: v.tolist() for k, v in peaks.items()}))
    return peaks


def validate_record(rec: RealRecord, cache: Path | None = None) -> dict[str, Any]:
    """Sensitivity and PPV of the shared detector on one record, with the peers' for comparison."""
    n, fs = rec.signal_mv.size, rec.fs
    peers = _peers_cached(rec, cache)
    ignore = np.zeros(0, dtype=np.int64)
    if rec.beats is not None and rec.labels is not None:
        labelled = np.asarray([bool(label) for label in rec.labels])
        reference, ignore, truth = rec.beats[labelled], rec.beats[~labelled], "annotations"
    else:
        reference, truth = consensus(peers, fs), f"peer consensus (>= {MIN_AGREE} of {', '.join(PEERS)} within 50 ms)"
    reference = _inside(reference, n, fs)
    tol = MATCH_S * fs

    def counted(found: np.ndarray) -> np.ndarray:
        """Detections inside the record, less those at an annotation marked artefact (EC57 leaves
        such places out: neither a beat to find nor an extra detection)."""
        found = _inside(found, n, fs)
        if ignore.size == 0 or found.size == 0:
            return found
        near = np.abs(found[:, None] - ignore[None, :]).min(axis=1) <= tol
        return found[~near]

    ours = match(reference, counted(detect(rec.signal_mv, fs)), tol)
    out: dict[str, Any] = {
        "record": rec.name, "source": rec.source, "fs": fs, "seconds": round(rec.seconds, 1), "lead": rec.lead,
        "rhythm": rec.rhythm, "truth": truth, "beats": int(reference.size),
        "sensitivity": round(ours.sensitivity, 5), "ppv": round(ours.ppv, 5),
        "matched": ours.matched, "missed": ours.missed, "extra": ours.extra,
        "pass": ours.sensitivity >= FLOOR and ours.ppv >= FLOOR,
        "peers": {},
    }
    for name, peaks in peers.items():
        m = match(reference, counted(peaks), tol)
        out["peers"][name] = {"sensitivity": round(m.sensitivity, 5), "ppv": round(m.ppv, 5)}
    if rec.shipped_peaks is not None:
        m = match(reference, counted(rec.shipped_peaks), tol)
        out["peers"]["shipped with the record"] = {"sensitivity": round(m.sensitivity, 5), "ppv": round(m.ppv, 5)}
    return out


def validate(records: list[RealRecord], cache: Path | None = None) -> dict[str, Any]:
    """The JSON report over ``records``: per record, then the worst record and the floor verdict."""
    rows = [validate_record(rec, cache) for rec in records]
    return {
        "detector": "models.preprocessing.ecg.detect_r_peaks after models.preprocessing.beats.condition",
        "preprocessing_version": PREPROCESSING_VERSION,
        "matching": {"window_s": MATCH_S, "edges_left_out_s": EDGE_S, "standard": "ANSI/AAMI EC57 beat matching"},
        "floor": FLOOR,
        "records": rows,
        "min_sensitivity": min((r["sensitivity"] for r in rows), default=None),
        "min_ppv": min((r["ppv"] for r in rows), default=None),
        "all_pass": all(r["pass"] for r in rows),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="R-peak sensitivity/PPV of the shared detector on real ECG")
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST, help="where the fetch script put the data")
    parser.add_argument("--json", type=Path, help="write the report here")
    parser.add_argument("--only", nargs="*", help="record names (or prefixes) to validate")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    records = [r for r in load_all(args.dest) if not args.only or any(r.name.startswith(o) for o in args.only)]
    report = validate(records, args.dest / "peers")
    for r in report["records"]:
        peers = " ".join(f"{k}={v['sensitivity']:.3f}/{v['ppv']:.3f}" for k, v in r["peers"].items())
        sys.stdout.write(f"{r['record']:28s} {r['fs']:6.0f} Hz {r['beats']:5d} beats  sens {r['sensitivity']:.4f}  "
              f"PPV {r['ppv']:.4f}  {'ok' if r['pass'] else 'BELOW'}  [{r['truth'][:11]}] peers {peers}\n")
    sys.stdout.write(f"min sensitivity {report['min_sensitivity']}, min PPV {report['min_ppv']}, "
                     f"all pass: {report['all_pass']}\n")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if report["all_pass"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
