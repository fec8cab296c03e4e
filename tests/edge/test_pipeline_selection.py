"""A node runs the pipelines of its configured models only; every stream is forwarded whatever runs."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from edge.config import EdgeConfig, ModelName
from edge.ecg_pipeline import EcgPipeline
from edge.emotion_pipeline import EmotionPipeline
from edge.fall_pipeline import FallPipeline
from edge.pipeline_registry import PIPELINES
from edge.processor import EdgeProcessor
from edge.vitals_pipeline import VitalsPipeline
from firmware_sim.ecg import EcgSynth
from iomt.wire import topics
from iomt.wire.events import Event
from iomt.wire.frames import encode_frame, make_frame
from iomt.wire.uplink import RecordKind

T0 = 1_764_000_000_000_000


def patient_frames(seconds: int = 10) -> list[tuple[str, bytes, int]]:
    """0.5 s frames of an ECG patch (its lead flat for the last 3 s) and a motion wearable (accelerometer
    + gyroscope) of one patient."""
    synth = EcgSynth(250.0, 70.0, np.random.default_rng(3))
    rng = np.random.default_rng(4)
    out = []
    for k in range(seconds * 2):
        t0 = T0 + k * 500_000
        ecg = np.round(synth.render(125) / 0.001).astype(np.int16) * (k < 2 * seconds - 6)
        acc = np.column_stack([rng.normal(0, .05, 25), rng.normal(0, .05, 25), 1 + rng.normal(0, .05, 25)])
        gyro = rng.normal(0, 5, (25, 3))
        for stream, raw, scale in [("ecg", ecg, 0.001), ("acc", np.round(acc * 4096).astype(np.int16), 1 / 4096),
                                   ("gyro", np.round(gyro * 16).astype(np.int16), 1 / 16)]:
            frame = make_frame("p1", stream, k, t0, 250.0 if stream == "ecg" else 50.0, raw, scale)
            out.append((topics.data("default", "p1", stream), encode_frame(frame), k))
    return out


def run(models: tuple[str, ...]) -> tuple[EdgeProcessor, list[Event], dict[RecordKind, int]]:
    processor = EdgeProcessor(EdgeConfig(models=models, fall_screen_g=1.0, hr_interval_s=1.0))  # type: ignore[arg-type]
    frames = patient_frames()
    events: list[Event] = []
    kinds: dict[RecordKind, int] = {}
    for k in range(0, len(frames), 3):  # a cycle per half second: the patient's three frames
        result = processor.handle_batch(frames[k : k + 3])
        events += result.events
        for record in result.records:
            kinds[record.kind] = kinds.get(record.kind, 0) + 1
    return processor, events, kinds


def test_every_model_name_has_a_pipeline_for_that_model() -> None:
    # the imaging model is the one without windows: it has a stage of its own (queue and cycle budget)
    assert set(PIPELINES) | {ModelName.IMAGING} == set(ModelName) and ModelName.IMAGING not in PIPELINES
    config = EdgeConfig()
    for name in ModelName:
        processor = EdgeProcessor(config.model_copy(update={"models": (name,)}))
        if name is ModelName.IMAGING:
            assert processor.pipelines == [] and processor.imaging is not None
        else:
            assert [p.model for p in processor.pipelines] == [name] and processor.imaging is None


def test_the_default_models_include_imaging_and_cost_nothing_without_images() -> None:
    processor, events, _ = run(tuple(EdgeConfig().models))
    assert ModelName.IMAGING in EdgeConfig().models and processor.imaging is not None
    assert processor.images_pending == 0 and "imaging" not in processor.engine.stats
    assert not [e for e in events if e.model == "imaging"]


def test_a_fall_only_node_runs_only_the_fall_pipeline_and_still_forwards_the_ecg() -> None:
    processor, events, records = run(("fall",))
    assert [type(p) for p in processor.pipelines] == [FallPipeline]
    assert set(processor.engine.stats) == {"fall"} and processor.engine.stats["fall"].windows > 0
    assert events == []  # no R-peaks searched (no heart rate), no ECG checks; no fall model loaded here
    assert records[RecordKind.FRAME] == 60  # the ECG frames reach the gateway all the same
    assert processor.counters.frames == 60


def test_heart_rate_and_ecg_quality_come_with_the_ecg_model() -> None:
    processor, events, records = run(("ecg",))
    assert [type(p) for p in processor.pipelines] == [EcgPipeline]
    assert {e.model for e in events} == {"heart_rate", "signal_quality"} and set(processor.engine.stats) == {"ecg"}
    assert [(e.label, e.detail) for e in events if e.model == "signal_quality"] == [("flat_line", {"stream": "ecg"})]
    assert records[RecordKind.FRAME] == 60


def test_the_default_node_runs_every_pipeline_in_one_order_whatever_the_configured_order() -> None:
    assert [type(p) for p in EdgeProcessor(EdgeConfig()).pipelines] == [
        EcgPipeline, FallPipeline, EmotionPipeline, VitalsPipeline]
    reordered = EdgeProcessor(EdgeConfig(models=("emotion", "ecg")))  # type: ignore[arg-type]
    assert [type(p) for p in reordered.pipelines] == [EcgPipeline, EmotionPipeline]
    assert [type(p) for p in EdgeProcessor(EdgeConfig(models=())).pipelines] == []


def test_an_unknown_or_repeated_model_is_refused_with_the_known_names() -> None:
    with pytest.raises(ValidationError, match="'ecg', 'fall', 'emotion', 'vitals' or 'imaging'"):
        EdgeConfig(models=("ecg", "sepsis"))  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="listed twice"):
        EdgeConfig(models=("fall", "fall"))  # type: ignore[arg-type]
