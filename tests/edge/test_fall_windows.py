"""Motion windows: one per hop whatever the batching, aligned with the gyroscope, none lost to a gap."""

from __future__ import annotations

import numpy as np

from edge.config import EdgeConfig
from edge.processor import EdgeProcessor
from iomt.wire import topics
from iomt.wire.frames import encode_frame, make_frame

T0 = 1_764_000_000_000_000


def frames(stream: str, count: int, seed: int = 0, start: int = 0) -> list[tuple[str, bytes, int]]:
    rng = np.random.default_rng(seed)
    out = []
    for k in range(start, start + count):
        values = np.column_stack([rng.normal(0, .05, 25), rng.normal(0, .05, 25), 1 + rng.normal(0, .05, 25)])
        scale = 1 / 4096 if stream == "acc" else 1 / 16
        raw = np.round(values / scale).astype(np.int16)
        frame = make_frame("p1", stream, k, T0 + k * 500_000, 50.0, raw, scale)
        out.append((topics.data("default", "p1", stream), encode_frame(frame), 0))
    return out


def processor() -> EdgeProcessor:
    p = EdgeProcessor(EdgeConfig(models=("fall",), fall_screen_g=None))
    return p


def fall_windows(p: EdgeProcessor) -> int:
    stats = p.engine.stats.get("fall")
    return stats.windows if stats else 0


def test_a_burst_of_ten_frames_gives_every_window() -> None:
    p = processor()
    p.handle_batch(frames("acc", 10))  # 5 s in one batch: windows ending at 2.0, 2.5, ... 5.0 s
    assert fall_windows(p) == 7


def test_windows_wait_for_the_gyroscope_frame_that_follows() -> None:
    p = processor()
    acc, gyro = frames("acc", 4), frames("gyro", 4, seed=1)
    for a, g in zip(acc[:3], gyro[:3], strict=True):
        p.handle_batch([a, g])
    p.handle_batch([acc[3]])  # the window ending at 2 s is complete for acc, not for gyro
    assert fall_windows(p) == 0
    p.handle_batch([gyro[3]])
    assert fall_windows(p) == 1


def test_a_gap_does_not_lose_windows_that_were_already_complete() -> None:
    p = processor()
    burst = frames("acc", 6)
    after_gap = frames("acc", 1, start=9)
    p.handle_batch(burst + after_gap)
    assert fall_windows(p) == 3  # 2.0, 2.5 and 3.0 s; the gap then restarts the window
    assert p.sequences.totals()["missing"] == 3
