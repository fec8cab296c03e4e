"""The edge analyses the images it opened: a simulated imaging device's sealed images go through
EdgeProcessor and the released int8 imaging model (a real LiteRT interpreter on models/imaging), each
becoming an event with its mask, areas, confidence and model version; at most ``imaging_per_cycle`` a
cycle, the rest queued; an image that fails validation is dead-lettered and never analysed."""

from __future__ import annotations

import numpy as np
import pytest

from edge.config import EdgeConfig, ModelName
from edge.imaging_pipeline import LESION, NO_LESION
from edge.processor import BatchResult, EdgeProcessor
from firmware_sim.devices import ImagingDevice
from iomt.wire import topics
from iomt.wire.chunks import CHUNK_HEADER
from iomt.wire.deadletter import decode_deadletter
from iomt.wire.events import Event, EventKind
from iomt.wire.masks import decode_rle

KEY = bytes(range(7, 39))
DEVICE = "imaging-0001"
TOPIC = topics.data("default", DEVICE, "image")
T0 = 1_764_000_000_000_000


def sealed_images(n: int, lesion_probability: float = 1.0) -> tuple[ImagingDevice, list[list[bytes]]]:
    """``n`` images of a simulated ultrasound device, sealed with its key: each image's chunks."""
    device = ImagingDevice(DEVICE, np.random.default_rng(11), interval_s=1.0, size=96,
                           lesion_probability=lesion_probability, chunk_size=2048, patients=("patient-0001",))
    device.use_key(1, KEY)
    device.bind(T0, 0.0)
    (source,) = device.sources
    images = []
    for k in range(n):
        out = source.render(k, T0 + k * 1_000_000)
        images.append(out if isinstance(out, list) else [out])
    return device, images


def node(**config: object) -> EdgeProcessor:
    processor = EdgeProcessor(EdgeConfig(models=(ModelName.IMAGING,), **config),  # type: ignore[arg-type]
                              keys=lambda d, k: KEY if (d, k) == (DEVICE, 1) else None)
    changes = processor.registry.poll()  # the released model, loaded and verified as a node does
    assert [(c.name, c.error) for c in changes] == [("imaging", None)]
    return processor


def batch(processor: EdgeProcessor, chunks: list[bytes]) -> BatchResult:
    return processor.handle_batch([(TOPIC, c, 0) for c in chunks])


def check_event(event: Event, version: str) -> None:
    assert event.model == "imaging" and event.kind is EventKind.INFERENCE and event.device == DEVICE
    assert event.model_version == version and event.label in (LESION, NO_LESION)
    d = event.detail
    spacing = d["spacing_mm"]
    assert d["shape"] == [96, 96] and isinstance(spacing, list) and min(spacing) > 0
    mask = decode_rle(d["mask_rle"], d["shape"])
    assert int(mask.sum()) == d["area_px"]  # the mask sent is the area reported
    if event.label == LESION:
        assert d["area_px"] > 0 and d["lesions"] and 0.5 <= event.score <= 1.0
        assert d["area_mm2"] == pytest.approx(d["area_px"] * spacing[0] * spacing[1], rel=1e-3, abs=1e-3)
        assert sum(lesion["area_px"] for lesion in d["lesions"]) == d["area_px"]
        assert all(0 < lesion["confidence"] <= 1 for lesion in d["lesions"])
    else:
        assert d["area_px"] == 0 and d["lesions"] == [] and 0 <= event.score < 1


def test_sealed_images_become_lesion_events_with_mask_area_confidence_and_version() -> None:
    processor = node(imaging_per_cycle=10, imaging_budget_ms=1e6)
    version = processor.registry.versions()["imaging"]
    _, images = sealed_images(4)
    result = batch(processor, [c for chunks in images for c in chunks])
    assert len(result.images) == 4 and not result.deadletters
    events = [e for e in result.events if e.model == "imaging"]
    assert [e.detail["image_seq"] for e in events] == [0, 1, 2, 3]
    for event in events:
        check_event(event, version)
    # the events travel to the gateway with the image records (which stay sealed)
    assert sum(r.kind.name == "EVENT" for r in result.records) == 4
    assert [i.model for i in result.inferred] == ["imaging"] and len(result.inferred[0].windows) == 4
    assert processor.engine.stats["imaging"].inferences == 4
    # phantoms that all have a lesion: the released model (held-out simulated sensitivity in its report) finds
    # some; a model that never found any would fail here
    assert any(e.label == LESION for e in events), [(e.label, e.score) for e in events]


def test_an_image_without_lesion_still_gives_an_event_with_the_model_version() -> None:
    processor = node(imaging_per_cycle=10, imaging_budget_ms=1e6)
    _, images = sealed_images(3, lesion_probability=0.0)
    events = [e for e in batch(processor, [c for chunks in images for c in chunks]).events]
    assert len(events) == 3
    for event in events:
        check_event(event, processor.registry.versions()["imaging"])


def test_images_beyond_the_cycle_budget_wait_for_later_cycles() -> None:
    processor = node()  # the default: one image a cycle
    _, images = sealed_images(3)
    first = batch(processor, [c for chunks in images for c in chunks])
    assert [e.detail["image_seq"] for e in first.events] == [0] and processor.images_pending == 2
    later = [processor.handle_batch([]) for _ in range(3)]  # cycles without messages (the node's idle cycles)
    assert [[e.detail["image_seq"] for e in r.events] for r in later] == [[1], [2], []]
    assert processor.images_pending == 0 and processor.imaging is not None and processor.imaging.dropped == 0


def test_an_image_that_fails_validation_is_dead_lettered_and_not_analysed() -> None:
    processor = node(imaging_per_cycle=10, imaging_budget_ms=1e6)
    _, images = sealed_images(2)
    bad = bytearray(images[0][-1])
    bad[CHUNK_HEADER.size + 5] ^= 0xFF  # a byte of the sealed payload altered: the reassembled object fails its CRC
    result = batch(processor, [*images[0][:-1], bytes(bad), *images[1]])
    assert [e.detail["image_seq"] for e in result.events] == [1]
    (letter,) = [decode_deadletter(d) for d in result.deadletters]
    assert letter.field == "crc32" and processor.counters.dead_letter == 1


def test_without_the_model_images_are_counted_not_analysed() -> None:
    processor = EdgeProcessor(EdgeConfig(models=(ModelName.IMAGING,), models_dir="/nonexistent"),  # type: ignore[arg-type]
                              keys=lambda d, k: KEY)
    _, images = sealed_images(1)
    result = batch(processor, images[0])
    assert len(result.images) == 1 and result.events == []
    assert processor.imaging is not None and processor.imaging.no_model == 1
    assert processor.engine.stats["imaging"].no_model == 1
