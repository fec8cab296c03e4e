"""Signal-quality checks that run before any inference: a model never sees garbage.

Pure functions over arrays, cheap enough to run on every window (a periodogram, not Welch).
Each returns ``None`` when the window is usable, otherwise the :class:`SignalProblem`, which
becomes a signal-quality event instead of an inference.
"""

from __future__ import annotations

import functools
from enum import StrEnum

import numpy as np


class SignalProblem(StrEnum):
    """Why a window is not fit for a model (the label of the signal-quality event)."""

    #: an electrode is off: the input floats to a rail
    LEAD_OFF = "lead_off"
    #: no variation: a dead sensor or a disconnected lead
    FLAT_LINE = "flat_line"
    #: the front end clips: the lead sits flat at its rail for longer than a QRS apex can
    SATURATION = "saturation"
    #: the beats are buried in artifact: out-of-band power that is not breathing wander, or broadband noise
    #: as strong as the ECG in the QRS band
    MOTION_ARTIFACT = "motion_artifact"


#: An ECG whose peak-to-peak amplitude is below this carries no cardiac signal (mV).
ECG_FLAT_MV = 0.05
#: Samples this far from zero mean an electrode is off and the input floats to a rail (mV); no ECG
#: front end passes a real baseline this far off, and R waves cross it for a few samples at most.
ECG_LEAD_OFF_DC_MV = 5.0
#: Share of a window at the rail that counts as lead-off (also when it came off mid-window).
ECG_LEAD_OFF_SHARE = 0.2
#: Share of samples sitting at the window's extreme value that indicates clipping (accelerometer).
CLIPPED_SHARE = 0.01
#: How long (s) an ECG must sit flat at its rail to be saturated. A QRS apex (the R or S peak) is a point:
#: the QRS rises and falls within 60-120 ms, so a flat top of 20 ms means the rail cut off roughly the top
#: quarter of the R wave or more. A front end that clips only the tip of the tallest R waves for a few
#: milliseconds (pysiology's converter: 7-14 ms at 1.494 mV) leaves the beats, and their R-peaks to within
#: half the flat top, intact: that is not a saturated lead.
ECG_SATURATED_RUN_S = 0.02
#: Share of ECG power below 0.7 Hz or above 40 Hz beyond which the beats are buried in artifact.
ECG_ARTIFACT_SHARE = 0.6
#: The band where the QRS complexes carry their power and the R-peak search looks (Hz), and the band above
#: it, where an ECG carries next to nothing, so what is there is broadband noise (muscle, electrode motion).
QRS_BAND_HZ = (5.0, 40.0)
#: The beats are buried in broadband noise when its power density, judged above the QRS band (the median
#: over those bins: mains lines do not move it), reaches this share of the QRS band's own density: at one
#: half, noise and ECG are as strong in the band the search uses (0 dB).
ECG_NOISE_SHARE_OF_QRS_BAND = 0.5
#: Accelerometer full-scale (g) at which a motion sensor clips.
ACC_FULL_SCALE_G = 7.9


def ecg_quality(x: np.ndarray, fs: float) -> SignalProblem | None:
    """Quality problem of a single-lead ECG window in mV, or ``None``."""
    return ecg_quality_many(np.asarray(x, dtype=np.float64).ravel()[None, :], fs)[0]


def ecg_quality_many(windows: np.ndarray, fs: float) -> list[SignalProblem | None]:
    """:func:`ecg_quality` of every row of ``windows`` (``(k, n)``, mV), computed in one pass."""
    x = np.asarray(windows, dtype=np.float64)
    if x.shape[1] < 2:
        return [SignalProblem.FLAT_LINE] * x.shape[0]
    off_rail = np.mean(np.abs(x) > ECG_LEAD_OFF_DC_MV, axis=1)
    ptp = np.ptp(x, axis=1)
    top = np.max(np.abs(x), axis=1)
    at_top = np.abs(x) >= (top * 0.999)[:, None]
    min_run = max(2, round(ECG_SATURATED_RUN_S * fs))
    flat_at_rail = np.zeros(x.shape[0], dtype=bool)
    can = np.flatnonzero(np.count_nonzero(at_top, axis=1) >= min_run)  # only these can hold such a run
    if can.size:
        flat_at_rail[can] = longest_run(at_top[can]) >= min_run
    # breathing's baseline wander is taken out first: over a 2 s window it is at most half a cycle, a bow
    # that a parabola follows, whose periodogram would leak across every bin, yet it hides no beat (the
    # conditioning's 0.5 Hz high-pass removes it); what stays below 0.7 Hz (a bump, a step and back: faster
    # than breathing) or above 40 Hz is artefact that can
    power = np.abs(np.fft.rfft(detrended(x), axis=1)) ** 2
    freqs = np.fft.rfftfreq(x.shape[1], 1.0 / fs)
    total = power.sum(axis=1)
    outside = power[:, (freqs < 0.7) | (freqs > 40.0)].sum(axis=1) / np.where(total > 0, total, 1.0)
    buried = noise_buries_qrs(power, freqs)
    out: list[SignalProblem | None] = []
    for i in range(x.shape[0]):
        if off_rail[i] >= ECG_LEAD_OFF_SHARE:
            out.append(SignalProblem.LEAD_OFF)
        elif ptp[i] < ECG_FLAT_MV:
            out.append(SignalProblem.FLAT_LINE)
        elif top[i] > 0 and flat_at_rail[i]:
            out.append(SignalProblem.SATURATION)
        elif total[i] > 0 and (outside[i] > ECG_ARTIFACT_SHARE or buried[i]):
            out.append(SignalProblem.MOTION_ARTIFACT)
        else:
            out.append(None)
    return out


def noise_buries_qrs(power: np.ndarray, freqs: np.ndarray) -> np.ndarray:
    """Per row of the periodogram ``power`` (``(k, bins)`` at ``freqs``): is the broadband noise as strong
    as the ECG in the QRS band (:data:`ECG_NOISE_SHARE_OF_QRS_BAND`)? The noise density is the median over
    the bins above :data:`QRS_BAND_HZ` over ln 2 (a white periodogram's bins are exponential: median =
    mean x ln 2). Ventricular rhythms and pacing keep their power in band, so they do not count; nor does a
    device too slow to see above the band."""
    lo, hi = QRS_BAND_HZ
    above = freqs > hi
    out = np.zeros(power.shape[0], dtype=bool)
    if np.count_nonzero(above) < 2:
        return out
    band = power[:, (freqs >= lo) & (freqs <= hi)].mean(axis=1)
    need = ECG_NOISE_SHARE_OF_QRS_BAND * band * np.log(2.0)  # what the median above the band must reach
    hf = power[:, above]
    # the median of non-negative values is at most twice their mean: only rows whose mean reaches half of
    # what the median needs can be buried (few; the median, a partial sort, is the costly part)
    can = np.flatnonzero((band > 0) & (hf.mean(axis=1) >= need / 2))
    if can.size:
        out[can] = np.median(hf[can], axis=1) >= need[can]
    return out


def detrended(x: np.ndarray) -> np.ndarray:
    """Rows of ``x`` less their least-squares parabola (what ``numpy.polynomial`` fits of degree
    :data:`TREND_DEGREE` leave, tested equal), as one projection onto an orthonormal basis cached per
    window length: the edge checks many small batches, where a general fit costs more than the spectrum.

    A parabola, not a straight line: over a 2 s window, breathing wander (0.1-0.5 Hz) is at most half a
    cycle, a curve (a hump in the baseline, mitdb/101 at 92-95 s) that a straight line leaves behind as
    power below 0.7 Hz; the conditioning's 0.5 Hz high-pass removes it all the same."""
    basis = _trend_basis(x.shape[1])
    return x - (x @ basis) @ basis.T


#: Degree of the baseline trend :func:`detrended` takes out.
TREND_DEGREE = 2


@functools.lru_cache(maxsize=16)
def _trend_basis(n: int) -> np.ndarray:
    """An orthonormal basis ``(n, TREND_DEGREE + 1)`` of the polynomials up to :data:`TREND_DEGREE` over n samples."""
    t = np.linspace(-1.0, 1.0, n)
    q, _ = np.linalg.qr(np.vander(t, TREND_DEGREE + 1, increasing=True))
    q.setflags(write=False)
    return q


def longest_run(mask: np.ndarray) -> np.ndarray:
    """Per row of the boolean ``mask`` ``(k, n)``, the length of its longest run of ``True``."""
    k, n = mask.shape
    padded = np.zeros((k, n + 2), dtype=np.int8)
    padded[:, 1:-1] = mask
    edges = np.diff(padded, axis=1)
    rows_up, starts = np.nonzero(edges == 1)
    _, ends = np.nonzero(edges == -1)  # the same rows, in the same order: each run has one start, one end
    out = np.zeros(k, dtype=np.int64)
    np.maximum.at(out, rows_up, ends - starts)
    return out


def motion_quality(acc: np.ndarray) -> SignalProblem | None:
    """Quality problem of an accelerometer window ``(n, 3)`` in g, or ``None``.

    Large accelerations are what a fall looks like, so only a sensor stuck at its rail or dead
    (no variation at all, not even gravity noise) is rejected.
    """
    a = np.asarray(acc, dtype=np.float64)
    if a.shape[0] < 2:
        return SignalProblem.FLAT_LINE
    return motion_quality_many(a.reshape(1, a.shape[0], -1))[0]


def motion_quality_many(windows: np.ndarray) -> list[SignalProblem | None]:
    """:func:`motion_quality` of every window of ``windows`` (``(k, n, channels)``, g), in one pass.

    Per-channel extremes decide both checks (they are exact in any float type): a window is flat
    when no channel moves, and only a window that reaches the rail is counted sample by sample.
    """
    a = np.asarray(windows)
    if a.dtype not in (np.float32, np.float64):
        a = a.astype(np.float64)
    if a.shape[1] < 2:
        return [SignalProblem.FLAT_LINE] * a.shape[0]
    by_channel = np.ascontiguousarray(a.transpose(0, 2, 1))  # reductions over a contiguous axis are fast
    hi = by_channel.max(axis=2).astype(np.float64)
    lo = by_channel.min(axis=2).astype(np.float64)
    flat = np.max(hi - lo, axis=1) < 1e-4
    # "not below the rail" rather than "at the rail": a channel with a NaN gets the exact count too
    at_rail = np.any(~(hi < ACC_FULL_SCALE_G) | ~(lo > -ACC_FULL_SCALE_G), axis=1)
    out: list[SignalProblem | None] = [SignalProblem.FLAT_LINE if f else None for f in flat.tolist()]
    for i in np.flatnonzero(at_rail & ~flat).tolist():
        if float(np.mean(np.abs(a[i].astype(np.float64)) >= ACC_FULL_SCALE_G)) > CLIPPED_SHARE * 2:
            out[i] = SignalProblem.SATURATION
    return out
