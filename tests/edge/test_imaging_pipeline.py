"""The edge's imaging stage: budgeted analysis of queued images and the lesion event it publishes.

Pure logic with a stand-in runner (a fixed probability map); the released int8 model runs through
the same code in tests/models/test_released_imaging.py.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from edge.imaging_pipeline import LESION, MODEL, NO_LESION, ImagingPipeline, lesion_event
from iomt.wire.chunks import Image
from iomt.wire.events import Priority, decode_event, encode_event
from iomt.wire.masks import decode_rle
from models.preprocessing import imaging as prep


class _Runner:
    """Answers every image with one probability map (model grid, two classes)."""

    version = "9.9.9"

    def __init__(self, lesion_prob: np.ndarray, threshold: float | None = None) -> None:
        self.prob = np.stack([1 - lesion_prob, lesion_prob], axis=-1)[None]
        self.calls = 0
        self.metadata = SimpleNamespace(decision=None if threshold is None else SimpleNamespace(threshold=threshold))

    def predict(self, x: np.ndarray) -> np.ndarray:
        assert x.shape == (1, prep.INPUT_SIZE, prep.INPUT_SIZE, 1)
        self.calls += 1
        return self.prob


def _square_prob() -> np.ndarray:
    prob = np.zeros((prep.INPUT_SIZE, prep.INPUT_SIZE), np.float32)
    prob[24:48, 36:60] = 0.9  # one lesion, 24 x 24 model px
    return prob


def test_a_lesion_event_carries_mask_areas_confidence_and_model_version() -> None:
    image = Image(41, 1_764_000_000_000_000, np.zeros((192, 192), np.uint8), (0.2, 0.25))
    event = lesion_event("ward", "edge-1", "us-1", image, "1.2.3", _square_prob(), 3.5)
    back = decode_event(encode_event(event))
    assert back == event  # travels as JSON unchanged
    assert (event.model, event.model_version, event.label, event.priority) == (MODEL, "1.2.3", LESION, Priority.LOW)
    assert event.window_start_us == event.window_end_us == image.t_us
    d = event.detail
    mask = decode_rle(d["mask_rle"], d["shape"])
    assert d["shape"] == [192, 192] and mask.sum() == d["area_px"] == 48 * 48  # 24 model px -> 48 image px
    (lesion,) = d["lesions"]
    assert lesion["bbox"] == [72, 48, 119, 95]
    assert lesion["confidence"] == pytest.approx(0.9, abs=0.03)  # its edges blur when upsampled
    assert d["area_mm2"] == pytest.approx(48 * 48 * 0.05) == event.value
    assert event.score == lesion["confidence"] and d["spacing_mm"] == [0.2, 0.25]
    again = lesion_event("ward", "edge-1", "us-1", image, "1.2.3", _square_prob(), 9.0)
    assert again.event_id == event.event_id  # the same image analysed again is the same event


def test_no_lesion_is_an_event_too_with_an_empty_mask_and_unknown_spacing() -> None:
    prob = np.full((prep.INPUT_SIZE, prep.INPUT_SIZE), 0.1, np.float32)
    prob[5, 5] = 0.7  # one pixel over the threshold: under the minimum area
    event = lesion_event("ward", "edge-1", "us-1", Image(1, 5, np.zeros((64, 80), np.uint8)), "1.0.0", prob, 1.0)
    assert event.label == NO_LESION and event.priority is Priority.INFO and event.value == 0.0
    assert event.score == pytest.approx(0.7) and event.detail["lesions"] == []
    assert event.detail["area_mm2"] is None and event.detail["spacing_mm"] is None
    assert not decode_rle(event.detail["mask_rle"], event.detail["shape"]).any()


def test_one_image_per_cycle_and_a_bounded_queue() -> None:
    runner = _Runner(_square_prob())
    stage = ImagingPipeline("ward", "edge-1", per_cycle=1, max_queue=3)
    for seq in range(5):
        stage.submit(f"us-{seq}", Image(seq, seq, np.zeros((128, 128), np.uint8)), arrival_ns=seq)
    assert stage.dropped == 2 and len(stage.queue) == 3  # the two oldest went
    first = stage.cycle(runner)
    assert [(e.device, arrival) for e, arrival in first] == [("us-2", 2)]
    assert runner.calls == 2  # one image, two looks (it and its mirror)
    assert len(stage.cycle(runner)) == 1 and len(stage.cycle(runner)) == 1 and stage.cycle(runner) == []
    assert stage.analysed == 3


def test_the_time_budget_stops_a_cycle_after_the_first_image() -> None:
    stage = ImagingPipeline("ward", "edge-1", per_cycle=10, budget_ms=0.0)
    for seq in range(3):
        stage.submit("us-1", Image(seq, seq, np.zeros((64, 64), np.uint8)), arrival_ns=0)
    assert len(stage.cycle(_Runner(_square_prob()))) == 1 and len(stage.queue) == 2


def test_without_a_model_images_are_counted_not_analysed() -> None:
    stage = ImagingPipeline("ward", "edge-1")
    stage.submit("us-1", Image(0, 0, np.zeros((64, 64), np.uint8)), arrival_ns=0)
    assert stage.cycle(None) == [] and stage.no_model == 1 and not stage.queue


def test_the_release_s_own_threshold_decides_and_is_recorded() -> None:
    image = Image(0, 0, np.zeros((96, 96), np.uint8))
    default = ImagingPipeline("ward", "edge-1")
    default.submit("us-1", image, arrival_ns=0)
    ((found, _),) = default.cycle(_Runner(_square_prob()))  # 0.9 over the default threshold
    assert found.label == LESION and found.detail["rule"]["threshold"] == prep.THRESHOLD
    strict = ImagingPipeline("ward", "edge-1")
    strict.submit("us-1", image, arrival_ns=0)
    ((event, _),) = strict.cycle(_Runner(_square_prob(), threshold=0.95))  # a release that asks for 0.95
    assert event.label == NO_LESION and event.detail["rule"]["threshold"] == 0.95
