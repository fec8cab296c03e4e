"""Turn one simulated recording into labelled model inputs with the edge's own preprocessing.

Each ``*_examples`` function returns ``(x, y)``; windows whose label is ambiguous (a fall only
partly inside, a window straddling two emotion segments, a detected beat with no annotated beat
near it) are left out of training and evaluation alike, and counted in the data card.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from iomt.wire.vitals import FIELDS, parse_vitals
from models.clinical import news2
from models.clinical.risk import observation, risk_of
from models.preprocessing import beats, emotion, motion, vitals


class AnnotationLike(Protocol):
    t_s: float
    t_end_s: float
    label: str
    kind: str


class RecordingLike(Protocol):
    subject: str
    kind: str
    rates: dict[str, float]
    signals: dict[str, np.ndarray]
    truth: tuple[Any, ...]


FALL_GUARD_S = 0.25
#: Daily activities that look like a fall to an accelerometer; they must stay in the negatives.
FALL_LIKE = frozenset({"sit_down_hard", "lie_down_fast", "bend_pick_up", "jump", "lie_down", "sit_down"})
BEAT_TOLERANCE_S = 0.10


def is_fall(a: AnnotationLike) -> bool:
    """The fall itself (loss of balance to impact); the lying that follows is a normal posture."""
    return a.kind == "fall"


def fall_window_labels(starts_s: np.ndarray, falls: Sequence[tuple[float, float]], window_s: float) -> np.ndarray:
    """1 fall, 0 no fall, -1 ambiguous for windows starting at ``starts_s``.

    A window is a fall when it holds at least half of a fall event (or half a window of a longer
    one), and clearly not one when it does not touch any event, widened by :data:`FALL_GUARD_S`.
    """
    out = np.zeros(len(starts_s), dtype=np.int64)
    for s, t in falls:
        if t - s < 0.1:
            s, t = s - 0.5, s + 0.5
        ends = starts_s + window_s
        overlap = np.clip(np.minimum(ends, t) - np.maximum(starts_s, s), 0.0, None)
        touch = (ends > s - FALL_GUARD_S) & (starts_s < t + FALL_GUARD_S)
        positive = overlap >= 0.5 * min(t - s, window_s)
        out = np.where(positive, 1, np.where(touch & (out != 1), -1, out))
    return out


def fall_like_tags(starts_s: np.ndarray, truth: Sequence[AnnotationLike], window_s: float) -> np.ndarray:
    """The fall-like activity each window overlaps most ("" when none), to report specificity on them."""
    tags = np.full(len(starts_s), "", dtype="<U16")
    best = np.zeros(len(starts_s))
    for a in truth:
        if a.kind != "activity" or a.label not in FALL_LIKE:
            continue
        overlap = np.clip(np.minimum(starts_s + window_s, a.t_end_s) - np.maximum(starts_s, a.t_s), 0.0, None)
        better = overlap > np.maximum(best, 0.2)
        tags[better] = a.label
        best = np.where(better, overlap, best)
    return tags


def fall_examples(rec: RecordingLike, hop: int = motion.HOP) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(windows, labels, fall-like activity tags)`` of one motion recording."""
    acc = rec.signals["acc"]
    gyro = rec.signals.get("gyro")
    wins, starts = motion.motion_windows(acc, rec.rates["acc"], gyro, rec.rates.get("gyro"), hop=hop)
    falls = [(a.t_s, a.t_end_s) for a in rec.truth if is_fall(a)]
    y = fall_window_labels(starts, falls, motion.WINDOW_S)
    return wins, y, fall_like_tags(starts, rec.truth, motion.WINDOW_S)


def ecg_examples(rec: RecordingLike, classes: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Input 2 beat vectors (:func:`models.preprocessing.beats.normalise_beats`) and their classes."""
    t_peaks, vectors = beats.beat_vectors(rec.signals["ecg"], rec.rates["ecg"])
    vectors = beats.normalise_beats(vectors, beats.previous_beats(vectors))
    ann = sorted((a.t_s, a.label) for a in rec.truth if a.kind == "beat")
    y = np.full(len(t_peaks), -1, dtype=np.int64)
    if ann and len(t_peaks):
        times = np.array([t for t, _ in ann])
        idx = np.clip(np.searchsorted(times, t_peaks), 1, len(times) - 1) if len(times) > 1 else np.zeros_like(t_peaks)
        idx = np.asarray(idx, dtype=np.int64)
        if len(times) > 1:
            left = idx - 1
            idx = np.where(np.abs(times[left] - t_peaks) < np.abs(times[idx] - t_peaks), left, idx)
        close = np.abs(times[idx] - t_peaks) <= BEAT_TOLERANCE_S
        lookup = {c: i for i, c in enumerate(classes)}
        y = np.array(
            [lookup.get(ann[j][1], -1) if ok else -1 for j, ok in zip(idx, close, strict=True)], dtype=np.int64
        )
    return vectors, y


def emotion_examples(
    rec: RecordingLike, classes: Sequence[str], hop_s: float = emotion.HOP_S
) -> tuple[np.ndarray, np.ndarray]:
    feats, starts = emotion.emotion_windows(rec.signals, rec.rates, hop_s=hop_s)
    segs = [(a.t_s, a.t_end_s, a.label) for a in rec.truth if a.kind == "emotion"]
    lookup = {c: i for i, c in enumerate(classes)}
    y = np.full(len(starts), -1, dtype=np.int64)
    for k, t0 in enumerate(starts):
        t1 = t0 + emotion.WINDOW_S
        for s, t, label in segs:
            if min(t1, t) - max(t0, s) >= 0.9 * emotion.WINDOW_S:
                y[k] = lookup.get(label, -1)
    return feats, y


def risk_labels(truth_rows: np.ndarray, classes: Sequence[str]) -> np.ndarray:
    """The five-class risk (index in ``classes``) that NEWS2 gives each row of true vitals."""
    lookup = {c: i for i, c in enumerate(classes)}
    out = np.empty(len(truth_rows), dtype=np.int64)
    for k, row in enumerate(np.asarray(truth_rows, dtype=np.float64)):
        obs = observation(parse_vitals(dict(zip(FIELDS, (float(v) for v in row), strict=True))))
        assert obs is not None, "true vitals always carry every NEWS2 parameter"
        out[k] = lookup[risk_of(news2.score(obs)).value]
    return out


def vitals_windows(
    rec: RecordingLike, classes: Sequence[str], hop_s: float = vitals.HOP_S
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(windows, labels, window end times)`` of one vitals recording: a window every ``hop_s``
    (the edge's rate), labelled with the risk class NEWS2 gives the *true* vitals at its last
    reading: the model learns NEWS2's response from noisy measurements."""
    fs = rec.rates["vitals"]
    measured = rec.signals["vitals"]
    t = np.arange(len(measured)) / fs
    x, ends = vitals.windows(t, measured, np.arange(hop_s, t[-1] + 1e-9, hop_s) if len(t) else [])
    last = np.searchsorted(t, ends + 1e-9, side="right") - 1
    y = risk_labels(rec.signals["vitals_truth"][last], classes) if len(ends) else np.zeros(0, np.int64)
    return x, y, ends


def vitals_examples(rec: RecordingLike, classes: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    x, y, _ = vitals_windows(rec, classes)
    return x, y
