"""The same recording, worn any way round, gives the same alerts: the edge with the released int8 fall
model (LiteRT) on a simulated day with falls and fall-like activities, and on the same samples
turned by random 3-D rotations (a sensor clipped on upside down or sideways)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from edge.config import EdgeConfig
from edge.fall_pipeline import DEVICE_REMOVED_LABEL
from edge.processor import EdgeProcessor
from firmware_sim.dataset import generate
from iomt.wire import topics
from iomt.wire.frames import encode_frame, make_frame

T0 = 1_764_000_000_000_000
FS = 50.0
ACC_SCALE, GYRO_SCALE = 1 / 2048, 1 / 16  # +-16 g, +-2048 deg/s: a rotated impact must not clip


def outcomes(acc: np.ndarray, gyro: np.ndarray) -> tuple[list[float], list[float], int]:
    """(fall alert impact times s, device-removed times s, impact windows) the edge gives for a recording."""
    processor = EdgeProcessor(EdgeConfig(models=("fall",)))
    processor.registry.poll()
    assert processor.registry.current("fall") is not None, processor.registry.errors()
    n = round(0.5 * FS)
    alerts: list[float] = []
    removed: list[float] = []
    for k in range(len(acc) // n):
        t0 = T0 + k * 500_000
        batch = []
        for stream, values, scale in (("acc", acc, ACC_SCALE), ("gyro", gyro, GYRO_SCALE)):
            raw = np.round(values[k * n:(k + 1) * n] / scale).astype(np.int16)
            batch.append((topics.data("default", "p1", stream),
                          encode_frame(make_frame("p1", stream, k, t0, FS, raw, scale)), 0))
        for e in processor.handle_batch(batch).events:
            if e.kind == "alert" and e.label == "fall":
                alerts.append(round((int(e.detail["impact_us"]) - T0) / 1e6, 2))
            elif e.label == DEVICE_REMOVED_LABEL:
                removed.append(round((e.window_start_us - T0) / 1e6, 1))
    return alerts, removed, processor.engine.stats["fall"].windows


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_random_rotations_of_a_day_give_the_same_alerts() -> None:
    rec = next(iter(generate("motion", 1, 900.0, seed=3, random_mount=True)))
    acc, gyro = rec.signals["acc"].astype(np.float64), rec.signals["gyro"].astype(np.float64)
    falls = [a.t_s for a in rec.truth if a.kind == "fall"]
    worn = outcomes(acc, gyro)
    assert worn[2] > 10, "the day has impacts for the model to judge"
    # every simulated fall alerted at its impact, nothing else (the day also holds lying down fast, the
    # end of walks, the device taken off and put back on), and the device taken off reported as such
    assert len(falls) >= 2 and len(worn[0]) == len(falls), (worn, falls)
    assert all(0 <= a - f <= 2.0 for a, f in zip(worn[0], sorted(falls), strict=True)), (worn, falls)
    assert len(worn[1]) >= 1
    for seed in (1, 2, 3):
        r = Rotation.random(random_state=seed).as_matrix()
        turned = outcomes(acc @ r.T, gyro @ r.T)
        assert turned[0] == pytest.approx(worn[0], abs=0.03), seed  # the same alerts, at the same impacts
        assert turned[1] == pytest.approx(worn[1], abs=0.6), seed  # and the same device-removed events
