"""Signal quality, ring buffers and the outbox disk cap."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge.buffers import RingBuffer
from edge.dsp.quality import detrended, ecg_quality, motion_quality
from edge.outbox import Outbox
from firmware_sim.ecg import EcgSynth
from iomt.wire.uplink import RecordKind, UplinkRecord

FS = 250.0


def clean_ecg(seconds: float = 4.0) -> np.ndarray:
    return np.asarray(EcgSynth(FS, 70.0, np.random.default_rng(2)).render(int(FS * seconds)))


def _emg(n: int) -> np.ndarray:
    """Broadband muscle noise (mV^2 per sample of variance 1)."""
    return np.random.default_rng(7).standard_normal(n)


def test_clean_ecg_passes() -> None:
    assert ecg_quality(clean_ecg(), FS) is None


def test_breathing_wander_across_a_2_s_window_is_not_artifact() -> None:
    """A 2 s window on the rising half of a 0.25 Hz, 2 mV baseline swing (breathing, electrode drift) hides
    no beat; before its trend was removed its leaked power called clean beats motion artifact."""
    x = clean_ecg(2.0)
    t = np.arange(x.size) / FS
    assert ecg_quality(x + 1.0 * np.sin(2 * np.pi * 0.25 * t - np.pi / 2), FS) is None


def test_the_quality_checks_detrend_is_a_least_squares_parabola() -> None:
    from numpy.polynomial import polynomial

    t = np.linspace(-1.0, 1.0, 501)
    x = np.random.default_rng(4).standard_normal((7, 501)) + 5 * t + 3 * t**2
    fits = [row - polynomial.polyval(t, polynomial.polyfit(t, row, 2)) for row in x]
    assert np.allclose(detrended(x), np.stack(fits))


def test_an_electrode_coming_off_mid_window_is_lead_off_not_saturation() -> None:
    x = clean_ecg(2.0)
    x[300:] = 30.0 + 0.2 * np.sin(2 * np.pi * 50 * np.arange(200) / FS)  # the last 0.8 s at the rail
    assert ecg_quality(x, FS) == "lead_off"


@pytest.mark.parametrize(
    ("signal", "problem"),
    [
        (np.full(1000, 30.0) + 0.2 * np.sin(2 * np.pi * 50 * np.arange(1000) / FS), "lead_off"),  # rail + hum
        (np.zeros(1000), "flat_line"),
        (np.clip(clean_ecg() * 5, -2.0, 2.0), "saturation"),
        (clean_ecg() + 3 * np.sin(2 * np.pi * 0.3 * np.arange(1000) / FS) + 2 * _emg(1000), "motion_artifact"),
    ],
)
def test_ecg_problems_are_named(signal: np.ndarray, problem: str) -> None:
    assert ecg_quality(signal, FS) == problem


def test_motion_quality_keeps_falls_and_rejects_dead_or_clipped_sensors() -> None:
    rng = np.random.default_rng(1)
    walking = np.column_stack(
        [0.1 * rng.standard_normal(100), 0.1 * rng.standard_normal(100), 1 + rng.standard_normal(100) * 0.2]
    )
    assert motion_quality(walking) is None
    impact = walking.copy()
    impact[50] = [3.0, 2.0, 6.5]  # a hard impact is exactly what must get through
    assert motion_quality(impact) is None
    assert motion_quality(np.tile([0.0, 0.0, 1.0], (100, 1))) == "flat_line"
    assert motion_quality(np.clip(walking * 20, -8, 8)) == "saturation"


def test_ring_buffer_wraps_and_keeps_order() -> None:
    buf = RingBuffer(5, 1, 10.0)
    buf.extend(np.arange(3, dtype=np.float32)[:, None], 1_000_000)
    buf.extend(np.arange(3, 7, dtype=np.float32)[:, None], 1_400_000)
    assert buf.latest(5)[:, 0].tolist() == [2, 3, 4, 5, 6]
    assert buf.latest(2)[:, 0].tolist() == [5, 6]
    assert buf.total == 7 and buf.time_of(0) == 1_400_000 and buf.time_of(4) == 1_000_000
    buf.extend(np.arange(10, 20, dtype=np.float32)[:, None], 2_400_000)
    assert buf.latest(5)[:, 0].tolist() == [15, 16, 17, 18, 19]


def test_outbox_cap_sheds_oldest_frames_and_never_events(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite", max_bytes=256 * 1024)
    events = [UplinkRecord(RecordKind.EVENT, b"event-%d" % i) for i in range(20)]
    box.append(events)
    for i in range(200):
        box.append([UplinkRecord(RecordKind.FRAME, bytes([i % 256]) * 4000)])
    assert box.shed_total > 0
    assert box.used_bytes() <= 256 * 1024
    kept = box.peek(10_000)
    kinds = [r.kind for _, r in kept]
    assert kinds.count(RecordKind.EVENT) == 20  # every event survives
    frames = [r.payload[0] for _, r in kept if r.kind is RecordKind.FRAME]
    assert frames == sorted(frames) and frames[-1] == 199 % 256  # the newest frames are the ones kept
    assert box.pending == len(kept) == 20 + 200 - box.shed_total
    assert box.take_shed() == box.shed_total and box.take_shed() == 0
