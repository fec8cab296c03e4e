"""ECG-model input: one vector per beat, a beat-centred waveform followed by its RR context.

The edge runs exactly this: resample to :data:`ECG_RATE_HZ`, remove baseline wander, find R-peaks
with :func:`models.preprocessing.ecg.detect_r_peaks`, then for every beat that has a neighbour on
each side take :data:`BEFORE` samples before and :data:`AFTER` after the R-peak (baseline-subtracted,
in mV) and append five rhythm features. Morphology alone cannot tell a premature supraventricular
beat (S) from a normal one; the RR intervals can.

Two input formats share that cut. **Input 1** (the released 1.0.0 model): the waveform in mV.
**Input 2** (:func:`normalise_beats`, :data:`NORMALISED_INPUT`): the beat's waveform and the
waveform of the beat before it, both divided by the beat's own QRS amplitude, then the RR features:
the model sees shapes, not a gain (real recordings come in amplitudes from 0.1 to several mV
depending on lead, electrode and patient, which the 1.0.0 model read as morphology), and it sees what
the beat looks like next to its predecessor. A lead decides whether a normal beat points up or
down, is narrow or notched; what marks a ventricular beat in every lead is that it differs from
the beats around it, so polarity is left to the model (trained on both) rather than flipped upright.
"""

from __future__ import annotations

import numpy as np

from models.preprocessing.ecg import detect_r_peaks, zero_phase
from models.preprocessing.resample import resample
from models.preprocessing.steps import remove_steps_many

ECG_RATE_HZ = 250.0
BEFORE = 60  # 0.24 s
AFTER = 100  # 0.40 s
WAVE = BEFORE + AFTER
#: pre-RR, post-RR and local mean RR (s), then pre-RR and post-RR over the local mean.
RR_FEATURES = 5
VECTOR = WAVE + RR_FEATURES
#: How many preceding RR intervals make the local rhythm.
LOCAL_BEATS = 8
#: R-peaks a beat's vector depends on: the LOCAL_BEATS before it, its own and the next one.
CONTEXT = LOCAL_BEATS + 2
CLIP_MV = 6.0
#: Input format of :func:`normalise_beats` (recorded with every model that reads it).
NORMALISED_INPUT = "2"
#: Samples either side of the R-peak (0.1 s) whose largest deflection is the beat's scale.
QRS_HALF = 25
#: Smallest scale (mV): flatter beats are noise, not shapes to blow up.
MIN_SCALE_MV = 0.05
#: Normalised waveform values are clipped to this many QRS amplitudes (a T wave may exceed the QRS).
NORM_CLIP = 3.0
#: Length of an input 2 vector: the beat's waveform, its predecessor's, the RR features.
INPUT2 = 2 * WAVE + RR_FEATURES
#: Input format versions (semantic, recorded with each model): major 1 is the beat vector of
#: :func:`beat_vectors` as it is; major 2 is :func:`normalise_beats` of it with the previous beat.
NORMALISED_VERSION = "2.0.0"
#: Majors of input this module still makes, so models of either major run.
RUNS_MAJORS = ("1", "2")


def condition(ecg: np.ndarray, fs: float) -> np.ndarray:
    """Remove baseline steps (:mod:`models.preprocessing.steps`, at the record's own rate), resample to
    :data:`ECG_RATE_HZ` and band-limit to 0.5..40 Hz (zero phase)."""
    return condition_many(np.asarray(ecg, dtype=np.float64).ravel()[None, :], fs)[0]


def condition_many(ecgs: np.ndarray, fs: float) -> np.ndarray:
    """:func:`condition` of every row of ``ecgs`` (``(k, n)``) in one pass; row results are identical."""
    x = resample(remove_steps_many(np.asarray(ecgs, dtype=np.float64), fs).T, fs, ECG_RATE_HZ).T
    if x.shape[1] < 3 * int(ECG_RATE_HZ):
        return np.ascontiguousarray(x)
    return zero_phase(x, 2, (0.5, 40.0), "bandpass", ECG_RATE_HZ)


def beat_vectors_from_peaks(
    x: np.ndarray, peaks: np.ndarray, after: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Beat vectors for R-peak indices ``peaks`` of a conditioned signal ``x`` at :data:`ECG_RATE_HZ`.

    Returns ``(kept peak indices, vectors (k, VECTOR) float32)``: the first and last peak (no RR on
    one side) and peaks too close to either end of the signal are skipped, and so are peaks at or
    before index ``after`` (a stream that already classified them); every other peak's vector is
    the same with or without ``after``. Peaks outside ``x`` (e.g. negative: found earlier in a
    longer signal) give no vector but count for the RR features of their neighbours.
    """
    peaks = np.asarray(peaks, dtype=np.int64)
    empty = np.zeros(0, dtype=np.int64), np.zeros((0, VECTOR), dtype=np.float32)
    if peaks.size < 3:
        return empty
    i = np.arange(1, peaks.size - 1)
    p = peaks[i]
    ok = (p - BEFORE >= 0) & (p + AFTER <= x.size)
    if after is not None:
        ok &= p > after
    i = i[ok]
    if not i.size:
        return empty
    padded = np.concatenate([np.full(LOCAL_BEATS - 1, peaks[0]), peaks])  # the first beats' short history
    context = np.lib.stride_tricks.sliding_window_view(padded, CONTEXT)[i - 1]
    x2 = np.asarray(x).reshape(1, -1)
    return peaks[i], beat_vectors_at(x2, np.zeros(i.size, dtype=np.int64), context, np.minimum(i, LOCAL_BEATS))


def beat_vectors_at(x: np.ndarray, rows: np.ndarray, context: np.ndarray, n_prev: np.ndarray) -> np.ndarray:
    """Vectors ``(B, VECTOR)`` float32 of ``B`` beats of the conditioned signals ``x`` (``(k, n)``).

    Beat ``b`` lies in row ``rows[b]``; ``context[b]`` holds the R-peak indices (in that row, any
    of them may lie outside it) of the :data:`LOCAL_BEATS` beats before it, the beat itself and the
    one after it (:data:`CONTEXT` columns); only the last ``n_prev[b]`` (>= 1) of the preceding
    intervals are real (a record's first beats), the columns before them are ignored. The beat's
    waveform must lie inside its row. Each vector is the same, value for value, as this beat's
    from :func:`beat_vectors_from_peaks` on the whole row, so an edge node can cut the beats of many
    patients, from histories of R-peaks that reach back beyond the signal it filtered, at once.
    """
    context = np.asarray(context, dtype=np.int64)
    centre = context[:, -2]
    waves = np.asarray(x)[np.asarray(rows)[:, None], centre[:, None] + np.arange(-BEFORE, AFTER)]
    waves = np.clip(waves - np.median(waves, axis=1)[:, None], -CLIP_MV, CLIP_MV)
    rr = np.diff(context, axis=1) / ECG_RATE_HZ
    pre, post = rr[:, -2], rr[:, -1]
    local = np.mean(rr[:, :LOCAL_BEATS], axis=1)  # per row the same floats as np.mean of that row alone
    for b in np.flatnonzero(np.asarray(n_prev) < LOCAL_BEATS):  # a short history: a plain mean of fewer
        local[b] = float(np.mean(rr[b, LOCAL_BEATS - int(n_prev[b]) : LOCAL_BEATS]))
    feats = np.stack([pre, post, local, pre / local, post / local], axis=1)
    return np.concatenate([waves, np.clip(feats, 0.0, 4.0)], axis=1).astype(np.float32)


def beat_vectors(ecg: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """``(R-peak times in s, beat vectors (k, VECTOR))`` of a single-lead ECG sampled at ``fs``."""
    x = condition(ecg, fs)
    peaks = detect_r_peaks(x, ECG_RATE_HZ)
    kept, vectors = beat_vectors_from_peaks(x, peaks)
    return kept / ECG_RATE_HZ, vectors


def previous_beats(vectors: np.ndarray) -> np.ndarray:
    """For consecutive beats of one record (as :func:`beat_vectors` returns them), each beat's
    predecessor; the first beat stands for its own (no predecessor: nothing to compare with)."""
    v = np.asarray(vectors)
    return np.concatenate([v[:1], v[:-1]]) if len(v) else v


def normalise_beats(vectors: np.ndarray, previous: np.ndarray | None = None) -> np.ndarray:
    """Input 2 ``(k, INPUT2)`` from input 1 vectors ``(k, VECTOR)`` and the input 1 vectors of the beats
    before them (``previous``; ``None``: each beat stands for its own predecessor): the beat's waveform
    and its predecessor's, both divided by the beat's largest deflection within :data:`QRS_HALF`
    samples of its R-peak (at least :data:`MIN_SCALE_MV`) and clipped to :data:`NORM_CLIP`, then the
    beat's RR features unchanged. The predecessor is what a reader compares a beat with: a ventricular
    beat stands out from the beat before it in shape, width, polarity and size, whatever the lead.
    A pure function of the two vectors: the edge (keeping each device's last vector) gets the training
    path's input as closely as their input 1 vectors agree."""
    v = np.asarray(vectors, dtype=np.float32).reshape(-1, VECTOR)
    prev = v if previous is None else np.asarray(previous, dtype=np.float32).reshape(-1, VECTOR)
    if prev.shape != v.shape:
        raise ValueError(f"previous: {prev.shape[0]} vectors for {v.shape[0]} beats")
    scale = np.maximum(np.max(np.abs(v[:, BEFORE - QRS_HALF : BEFORE + QRS_HALF + 1]), axis=1), MIN_SCALE_MV)
    out = np.empty((v.shape[0], INPUT2), dtype=np.float32)
    out[:, :WAVE] = np.clip(v[:, :WAVE] / scale[:, None], -NORM_CLIP, NORM_CLIP)
    out[:, WAVE : 2 * WAVE] = np.clip(prev[:, :WAVE] / scale[:, None], -NORM_CLIP, NORM_CLIP)
    out[:, 2 * WAVE :] = v[:, WAVE:]
    return out


def input_major(module: str, version: str) -> str:
    """The input format (:data:`NORMALISED_INPUT` or ``"1"``) of a model whose metadata names the
    preprocessing ``module`` and ``version``: major 2 of this module reads :func:`normalise_beats`."""
    major = version.split(".")[0]
    return NORMALISED_INPUT if module == __name__ and major == NORMALISED_INPUT else "1"


def model_input(vectors: np.ndarray, previous: np.ndarray, major: str) -> np.ndarray:
    """What a model of input ``major`` (:func:`input_major`) reads for beats with input 1 ``vectors``
    whose predecessors' input 1 vectors are ``previous``: training, the real-recording evaluation and
    the edge all call this, so they feed a model alike."""
    v = np.asarray(vectors, dtype=np.float32).reshape(-1, VECTOR)
    return normalise_beats(v, previous) if major == NORMALISED_INPUT else v
