"""The ECG pipeline never emits a beat found in signal its own quality check refused.

A refused run forgets the R-peak history; the next search must not reach back into the refused
window (it used to search :data:`~edge.dsp.ecg.FIRST_SPAN_S` back and emit beats from inside a
saturation artefact: pecg's Holter at 167.87 s and 215.74 s, models/ecg/report/rpeaks_review.md).
Simulated leads fed to the real :class:`~edge.ecg_pipeline.EcgPipeline` in 0.5 s frames.
"""

from __future__ import annotations

import numpy as np
import pytest

from edge.alerts import AlertContext
from edge.dsp.quality import SignalProblem
from edge.ecg_pipeline import QUALITY_S, EcgPipeline
from edge.quality_state import QualityTracker
from firmware_sim.ecg import EcgStream
from firmware_sim.persona import make_persona
from iomt.wire.events import EventKind
from iomt.wire.frames import make_frame

T0_US = 1_764_000_000_000_000
FRAME_S = 0.5
SCALE_MV = 0.001
SECONDS = 40
#: The saturated stretch (s): the front end clips the lead flat at its rails.
SATURATED = (14.0, 20.0)


def _lead(fs: float) -> np.ndarray:
    return EcgStream(make_persona(1, 0, condition="normal"), fs, np.random.default_rng(1)).render(round(fs * SECONDS))


def _saturated(x: np.ndarray, fs: float) -> np.ndarray:
    """``x`` with :data:`SATURATED` clipped at rails of 0.4 of the R height: flat-topped R waves the
    detector still finds, which the quality check names saturation."""
    t = np.arange(x.size) / fs
    inside = (t >= SATURATED[0]) & (t < SATURATED[1])
    rail = 0.4 * float(np.percentile(x, 99.9))
    return np.where(inside, np.clip(x, -rail, rail), x)


def _feed(pipeline: EcgPipeline, leads: dict[str, np.ndarray], fs: float) -> tuple[dict[str, np.ndarray], list[str]]:
    """R-peak times (s) of the beats the pipeline classifies per device, and the labels of its quality events."""
    n = round(FRAME_S * fs)
    counts = {d: np.clip(np.round(x / SCALE_MV), -32768, 32767).astype(np.int16) for d, x in leads.items()}
    beats: dict[str, list[float]] = {d: [] for d in leads}
    quality: list[str] = []
    for k in range(round(SECONDS / FRAME_S)):
        for device, c in counts.items():
            t_us = T0_US + round(k * FRAME_S * 1e6)
            pipeline.on_frame(make_frame(device, "ecg", k, t_us, fs, c[k * n : (k + 1) * n], SCALE_MV), k)
        windows, events = pipeline.ready()
        for w in windows:
            beats[w.device].append((w.extra - T0_US) / 1e6)
        quality += [e.label for e in events if e.kind is EventKind.QUALITY]
    return {d: np.asarray(v) for d, v in beats.items()}, quality


def _pipeline() -> EcgPipeline:
    return EcgPipeline(AlertContext("s", "n"), QualityTracker("s", "n"))


@pytest.mark.parametrize("fs", [250.0, 360.0])
def test_no_beat_is_emitted_from_a_saturated_stretch_and_the_clean_beats_after_it_are(fs: float) -> None:
    x = _lead(fs)
    clean = _feed(_pipeline(), {"d": x}, fs)[0]["d"]
    beats, quality = _feed(_pipeline(), {"d": _saturated(x, fs)}, fs)
    got = beats["d"]
    assert SignalProblem.SATURATION in quality  # the check refused the stretch, as it should
    start, end = SATURATED
    assert np.count_nonzero((clean >= start) & (clean < end)) >= 5  # there are beats to emit wrongly
    assert not np.any((got >= start) & (got < end)), got[(got >= start) & (got < end)]
    # every refused 2 s window ends before the clipping has left it; a beat whose predecessor comes
    # after that is emitted as on the clean lead (the first beat after bad signal has no predecessor)
    after = clean[1:][clean[:-1] >= end + QUALITY_S]
    assert after.size >= 15
    assert all(np.min(np.abs(got - t)) < 0.01 for t in after)
    # before the stretch nothing changes
    assert np.array_equal(got[got < start - QUALITY_S], clean[clean < start - QUALITY_S])


def test_a_device_searched_less_after_bad_signal_leaves_the_others_in_its_batch_as_alone() -> None:
    """Devices are searched together; the one whose span is cut at its refused signal must not change
    the beats of another (nor they its), so each device emits what it emits alone."""
    fs = 250.0
    leads = {"clean": _lead(fs), "saturated": _saturated(_lead(fs), fs)}
    together = _feed(_pipeline(), leads, fs)[0]
    for device, x in leads.items():
        alone = _feed(_pipeline(), {device: x}, fs)[0][device]
        np.testing.assert_array_equal(together[device], alone)

