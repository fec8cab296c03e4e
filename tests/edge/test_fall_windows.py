"""Motion windows through the node: one per impact whatever the batching, none across a gap."""

from __future__ import annotations

import numpy as np

from edge.config import EdgeConfig
from edge.processor import EdgeProcessor
from iomt.wire import topics
from iomt.wire.frames import encode_frame, make_frame

T0 = 1_764_000_000_000_000
#: frames (0.5 s each) in which the wearer hits something (|a| about 3 g)
IMPACT_FRAMES = (6, 14, 22)


def frames(stream: str, count: int, seed: int = 0, start: int = 0) -> list[tuple[str, bytes, int]]:
    rng = np.random.default_rng(seed)
    out = []
    for k in range(start, start + count):
        values = np.column_stack([rng.normal(0, .05, 25), rng.normal(0, .05, 25), 1 + rng.normal(0, .05, 25)])
        if stream == "acc" and k in IMPACT_FRAMES:
            values[12] = [0.5, 0.5, 3.0]
        scale = 1 / 4096 if stream == "acc" else 1 / 16
        raw = np.round(values / scale).astype(np.int16)
        frame = make_frame("p1", stream, k, T0 + k * 500_000, 50.0, raw, scale)
        out.append((topics.data("default", "p1", stream), encode_frame(frame), 0))
    return out


def fall_windows(p: EdgeProcessor) -> int:
    stats = p.engine.stats.get("fall")
    return stats.windows if stats else 0


def interleaved(count: int) -> list[tuple[str, bytes, int]]:
    return [m for pair in zip(frames("acc", count), frames("gyro", count, seed=1), strict=True) for m in pair]


def test_one_window_per_impact_whether_frames_come_one_by_one_or_in_a_burst() -> None:
    one_by_one = EdgeProcessor(EdgeConfig(models=("fall",)))
    for message in interleaved(30):
        one_by_one.handle_batch([message])
    burst = EdgeProcessor(EdgeConfig(models=("fall",)))
    burst.handle_batch(interleaved(30))
    assert fall_windows(one_by_one) == fall_windows(burst) == len(IMPACT_FRAMES)


def test_a_lower_screen_shows_the_model_more_windows() -> None:
    p = EdgeProcessor(EdgeConfig(models=("fall",), fall_screen_g=1.0))
    p.handle_batch(interleaved(30))
    assert fall_windows(p) > 3 * len(IMPACT_FRAMES)  # every second of |a| about 1 g is a burst now


def test_a_gap_starts_over_and_never_splices_samples_across_it() -> None:
    p = EdgeProcessor(EdgeConfig(models=("fall",)))
    acc = frames("acc", 30)
    gyro = frames("gyro", 30, seed=1)
    kept = [m for k, pair in enumerate(zip(acc, gyro, strict=True)) if not 12 <= k < 15 for m in pair]
    p.handle_batch(kept)
    assert p.sequences.totals()["missing"] == 6  # 3 frames of each stream
    # the impact in frame 14 was lost with the gap; a new tracker starts at frame 15, and the impact in
    # frame 22 has its 1.4 s of history after that start
    assert fall_windows(p) == 2
