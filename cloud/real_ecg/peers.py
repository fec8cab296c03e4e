"""Peer R-peak detectors and their consensus: the reference where a recording has no annotations.

Peers (each a published, maintained implementation run with its defaults on the raw lead):

* ``neurokit2``: ``ecg_clean`` then ``ecg_peaks`` (method "neurokit": gradient steepness);
* ``xqrs``: wfdb's XQRS (learning its thresholds), run at 250 Hz: at 500-4000 Hz it often finds nothing;
* ``sleepecg``: sleepecg's ``detect_heartbeats`` (a Pan-Tompkins variant with adaptive thresholds);
* ``hamilton``, ``two_average`` and ``christov``: py-ecg-detectors' Hamilton (2002), Elgendi's two
  moving averages and Christov (2004);
* ``kalidas``, ``rodrigues`` and ``engzee``: neurokit2's ``ecg_peaks`` methods "kalidas2017" (stationary
  wavelet transform), "rodrigues2021" and "engzeemod2012" (on the ``ecg_clean``-ed lead, as above).

**Consensus** (:func:`consensus`): a beat is a place where a majority of the :data:`PEERS` (at
least :data:`MIN_AGREE` of 9) put an R-peak within :data:`AGREE_S` (50 ms) of each other, after each
peak is snapped onto the largest deflection within 75 ms (:func:`snap`); its position is the median
of theirs; two such beats closer than 200 ms are one (pecg's Holter had a wide complex counted twice,
100 ms apart, by two groups of five). With three peers, two agreeing was not enough: on a slow
rhythm with tall T waves two of them marked every T wave as a beat (aladin's STANFORD2); with five,
three of them still did (neurokit2, sleepecg and Hamilton, on STANFORD2's T waves and on a flat
stretch of its AV block), so nine peers vote and five must agree.

Every peer runs at the record's own rate (XQRS at 250 Hz, as above): on MIT-BIH 100 and 101 resampled
to 200 Hz, against their annotations, each of the nine scored 99.7-100 % sensitivity and 99.2-100 %
PPV at 200 Hz (neurokit2's "elgendi2010" method, 92-97 %, is not a peer); running them on a copy
resampled to 500 Hz made none better and Christov far worse (PPV 0.24-0.32), so a 200 Hz record's
trouble is its morphology, not its rate.

**Reliability** (:func:`reliable`): a consensus is a reference only where the peers themselves agree
with it: at least :data:`MIN_AGREE` peers each reach :data:`RELIABLE` (90 %) sensitivity and PPV
against it (90 %, not more: on a strip of 10 to 30 beats one disagreement costs a peer 3 to 10 %).
Where fewer do (a noise test signal on which every peer finds a different rhythm), no detector can
be scored against it, and the record is reported with that reason instead of a figure held to the
floor.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections.abc import Callable
from fractions import Fraction

import numpy as np

AGREE_S = 0.050
#: A majority of :data:`PEERS`.
MIN_AGREE = 5
#: Sensitivity and PPV against the consensus that a peer must reach to count as agreeing with it.
RELIABLE = 0.90
#: Two consensus beats closer than this are one (300 bpm; the shared detector's refractory period).
REFRACTORY_S = 0.20
XQRS_RATE_HZ = 250.0
#: How far a peer's R-peak may be moved onto the largest deflection of its QRS.
SNAP_S = 0.075


def _neurokit2_method(method: str) -> Callable[[np.ndarray, float], np.ndarray]:
    def detect(x: np.ndarray, fs: float) -> np.ndarray:
        import neurokit2 as nk

        clean = nk.ecg_clean(x, sampling_rate=round(fs))
        _, info = nk.ecg_peaks(clean, sampling_rate=round(fs), method=method)
        return np.asarray(info["ECG_R_Peaks"], dtype=np.int64)

    return detect


def _xqrs(x: np.ndarray, fs: float) -> np.ndarray:
    """XQRS at 250 Hz (it finds nothing on many 500-4000 Hz records), mapped back to ``fs``."""
    from scipy.signal import resample_poly
    from wfdb import processing

    logging.getLogger("wfdb").setLevel(logging.WARNING)
    ratio = Fraction(XQRS_RATE_HZ / fs).limit_denominator(1000)
    y = resample_poly(x, ratio.numerator, ratio.denominator) if ratio != 1 else x
    with contextlib.redirect_stdout(io.StringIO()):
        found = processing.xqrs_detect(sig=y, fs=XQRS_RATE_HZ, verbose=False)
    return np.round(np.asarray(found, dtype=np.float64) * fs / XQRS_RATE_HZ).astype(np.int64)


def _sleepecg(x: np.ndarray, fs: float) -> np.ndarray:
    import sleepecg

    return np.asarray(sleepecg.detect_heartbeats(x, fs), dtype=np.int64)


def _ecgdetectors(method: str) -> Callable[[np.ndarray, float], np.ndarray]:
    def detect(x: np.ndarray, fs: float) -> np.ndarray:
        from ecgdetectors import Detectors

        return np.asarray(getattr(Detectors(fs), method)(x), dtype=np.int64)

    return detect


DETECTORS: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    "neurokit2": _neurokit2_method("neurokit"), "xqrs": _xqrs, "sleepecg": _sleepecg,
    "hamilton": _ecgdetectors("hamilton_detector"), "two_average": _ecgdetectors("two_average_detector"),
    "christov": _ecgdetectors("christov_detector"), "kalidas": _neurokit2_method("kalidas2017"),
    "rodrigues": _neurokit2_method("rodrigues2021"), "engzee": _neurokit2_method("engzeemod2012"),
}
#: The peers, in the order reports list them.
PEERS: tuple[str, ...] = tuple(DETECTORS)


def snap(peaks: np.ndarray, x: np.ndarray, fs: float, half_s: float = SNAP_S) -> np.ndarray:
    """Each peak moved to the largest deflection of the 0.5-40 Hz band-passed ``x`` within ``half_s``:
    peers mark different points of the QRS (onset, steepest slope, peak), and a vote within 50 ms
    needs them on the same one."""
    from scipy.signal import butter, sosfiltfilt

    if peaks.size == 0:
        return peaks
    y = np.abs(sosfiltfilt(butter(2, (0.5, min(40.0, 0.45 * fs)), "bandpass", fs=fs, output="sos"), x))
    half = max(1, round(half_s * fs))
    idx = np.clip(peaks[:, None] + np.arange(-half, half + 1)[None, :], 0, x.size - 1)
    return np.unique(idx[np.arange(idx.shape[0]), np.argmax(y[idx], axis=1)])


def peer_peaks(x: np.ndarray, fs: float) -> dict[str, np.ndarray]:
    """R-peak sample indices from every peer, snapped to the R wave (:func:`snap`); a peer that fails
    on a record gives none, and the log says why."""
    out: dict[str, np.ndarray] = {}
    for name, detect in DETECTORS.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                found = np.unique(detect(np.asarray(x, dtype=np.float64), fs))
                out[name] = snap(found[(found >= 0) & (found < x.size)], np.asarray(x, dtype=np.float64), fs)
            except (ValueError, IndexError, RuntimeError, ZeroDivisionError) as exc:
                logging.getLogger(__name__).warning("%s failed: %s", name, exc)
                out[name] = np.zeros(0, dtype=np.int64)
    return out


def consensus(peaks: dict[str, np.ndarray], fs: float, agree_s: float = AGREE_S,
              min_agree: int = MIN_AGREE) -> np.ndarray:
    """Beats at least ``min_agree`` peers put within ``agree_s`` of each other (median position); of two
    such beats closer than :data:`REFRACTORY_S`, the one more peers voted for (the earlier of a tie):
    two groups of peers marking the R and the S of one wide complex are one beat, not two."""
    tol = agree_s * fs
    points = sorted((int(p), name) for name, arr in peaks.items() for p in arr)
    beats: list[tuple[int, int]] = []  # (position, votes)
    i = 0
    while i < len(points):
        group = [points[i]]
        j = i + 1
        while j < len(points) and points[j][0] - points[i][0] <= tol:
            group.append(points[j])
            j += 1
        by_peer: dict[str, int] = {}
        for p, name in group:
            by_peer.setdefault(name, p)  # one (the earliest) detection per peer
        if len(by_peer) >= min_agree:
            beats.append((int(np.median(list(by_peer.values()))), len(by_peer)))
            i = j
        else:
            i += 1
    kept: list[tuple[int, int]] = []
    for beat in beats:
        if kept and beat[0] - kept[-1][0] < REFRACTORY_S * fs:
            if beat[1] > kept[-1][1]:
                kept[-1] = beat
            continue
        kept.append(beat)
    return np.asarray([p for p, _ in kept], dtype=np.int64)


def agreeing(scores: dict[str, tuple[float, float]], level: float = RELIABLE) -> list[str]:
    """The peers whose ``(sensitivity, PPV)`` against a consensus both reach ``level``."""
    return [name for name, (sens, ppv) in scores.items() if sens >= level and ppv >= level]


def reliable(scores: dict[str, tuple[float, float]], min_agree: int = MIN_AGREE, level: float = RELIABLE) -> bool:
    """Whether a consensus is a reference: at least ``min_agree`` peers agree with it (:func:`agreeing`)."""
    return len(agreeing(scores, level)) >= min_agree
