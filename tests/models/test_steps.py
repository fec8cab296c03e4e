"""A baseline step of the front end is not a beat; a pacemaker spike and a paced beat are kept (simulated
and synthetic signals; the real step this rule was made for, ISHNE ECG_P28.01 at 2.101 s, is in
``models/ecg/report/rpeaks_review.md``)."""

from __future__ import annotations

import numpy as np
import pytest

import models.preprocessing.steps as steps_module
from firmware_sim.ecg import EcgStream
from firmware_sim.persona import make_persona
from models.preprocessing.beats import ECG_RATE_HZ, condition
from models.preprocessing.ecg import detect_r_peaks
from models.preprocessing.steps import find_steps_many, remove_steps_many

FS = 1000.0
SECONDS = 30


def _sinus(seed: int = 1, fs: float = FS, condition_name: str = "normal") -> tuple[np.ndarray, np.ndarray]:
    """``(lead in mV at fs, R-peak times in s)`` of a simulated patient."""
    stream = EcgStream(make_persona(seed, 0, condition=condition_name), fs, np.random.default_rng(seed))
    x = stream.render(round(fs * SECONDS))
    return x, np.asarray([t for t, _ in stream.take_beats()])


def _peaks_s(x: np.ndarray, fs: float) -> np.ndarray:
    return detect_r_peaks(condition(x, fs), ECG_RATE_HZ) / ECG_RATE_HZ


def _between_beats(beats: np.ndarray) -> float:
    """A time halfway between two beats in the middle of the record (where a step is nobody's beat)."""
    k = beats.size // 2
    return float((beats[k] + beats[k + 1]) / 2)


def _extras(peaks: np.ndarray, beats: np.ndarray) -> np.ndarray:
    inner = peaks[(peaks > 1.0) & (peaks < SECONDS - 1.0)]
    return inner[np.abs(inner[:, None] - beats[None, :]).min(axis=1) > 0.15]


def test_a_step_is_found_and_removed_and_is_not_a_beat(monkeypatch: pytest.MonkeyPatch) -> None:
    """ISHNE's step, copied onto a simulated sinus lead at 1 kHz: 0.7 mV in one sample, staying. Without the
    rule it is a beat (checked, so the test can fail); with it the detections are the clean lead's."""
    x, beats = _sinus()
    at = _between_beats(beats)
    stepped = x + np.where(np.arange(x.size) / FS > at, 0.7, 0.0)
    rows, cols = find_steps_many(stepped[None, :], FS)
    assert rows.tolist() == [0] and abs(cols[0] / FS - at) <= 1.0 / FS
    assert np.abs(remove_steps_many(stepped[None, :], FS)[0] - x).max() < 0.05  # the noise of one sample
    clean = _peaks_s(x, FS)
    assert _extras(clean, beats).size == 0
    assert np.array_equal(_peaks_s(stepped, FS), clean)
    monkeypatch.setattr(steps_module, "STEP_SLEW_MV_S", np.inf)  # the rule off
    assert np.any(np.abs(_extras(_peaks_s(stepped, FS), beats) - at) < 0.1)


@pytest.mark.parametrize("fs", [500.0, 1000.0, 2000.0])
def test_simulated_leads_and_their_paced_beats_have_no_step(fs: float) -> None:
    """Simulated patients of every kind, paced ones included (a 4 ms pacemaker spike before a wide QRS),
    at 500-2000 Hz: no sample is a step, so conditioning leaves them as they were."""
    for condition_name in ("normal", "pvc", "vt_prone", "paced"):
        x, _ = _sinus(2, fs, condition_name)
        assert find_steps_many(x[None, :], fs)[0].size == 0, condition_name


def test_a_sharp_pacemaker_spike_is_not_a_step_and_the_paced_beat_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    """A real pacemaker spike is far faster than any QRS (here 4 mV in one sample at 1 kHz, 4,000 mV/s) and
    decays over a few ms through the front end (5 ms), then comes the wide paced QRS: it does not stay, so
    it is not a step, and every paced beat is found. Only the 'stays' test tells it from a step (checked)."""
    t = np.arange(round(FS * SECONDS)) / FS
    x = np.random.default_rng(3).normal(0.0, 0.005, t.size)
    beats = np.arange(1.0, SECONDS - 0.5, 0.8)
    for b in beats:
        spike = round((b - 0.04) * FS)
        x[spike:] += 4.0 * np.exp(-(t[spike:] - t[spike]) / 0.005)
        x += 1.2 * np.exp(-0.5 * ((t - b) / 0.03) ** 2) - 0.3 * np.exp(-0.5 * ((t - b - 0.3) / 0.06) ** 2)
    assert find_steps_many(x[None, :], FS)[0].size == 0
    found = _peaks_s(x, FS)
    inner = beats[(beats > 1.5) & (beats < SECONDS - 1.5)]
    assert np.all(np.abs(inner[:, None] - found[None, :]).min(axis=1) <= 0.1)
    monkeypatch.setattr(steps_module, "STEP_STAYS", -np.inf)
    assert find_steps_many(x[None, :], FS)[0].size == beats.size


def test_a_spike_of_noise_is_not_a_step() -> None:
    x = np.zeros(2000)
    x[1000] = 1.0  # one sample up, back on the next
    assert find_steps_many(x[None, :], FS)[0].size == 0
    x[1001:] = 1.0  # the same edge, staying
    assert find_steps_many(x[None, :], FS)[1].tolist() == [999]


def test_below_500_hz_nothing_is_taken_for_a_step() -> None:
    """At 360 Hz one sample (2.8 ms) is too long against a QRS upstroke to tell the two apart."""
    x = np.r_[np.zeros(500), np.ones(500)]
    assert find_steps_many(x[None, :], 360.0)[0].size == 0
    assert remove_steps_many(x[None, :], 360.0) is not None
    assert np.array_equal(remove_steps_many(x[None, :], 360.0)[0], x)
    assert find_steps_many(x[None, :], 500.0)[1].tolist() == [499]


def test_rows_are_searched_alone() -> None:
    """Many rows at once (the edge's batch) give each row's own steps."""
    x = np.zeros((3, 1000))
    x[1, 400:] = 0.8
    x[2, 700:] = -0.5
    rows, cols = find_steps_many(x, FS)
    assert list(zip(rows.tolist(), cols.tolist(), strict=True)) == [(1, 399), (2, 699)]
    cleaned = remove_steps_many(x, FS)
    assert np.allclose(cleaned, 0.0)  # the flat rows stay flat
