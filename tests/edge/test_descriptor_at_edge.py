"""The edge reads a device's retained descriptor: it reaches the fall pipeline and, as a ``descriptor``
event, the gateway; the same one redelivered is not repeated; a bad one is a dead letter naming the
field while the last valid one and every frame around it are kept; an empty payload withdraws it."""

from __future__ import annotations

import json

import numpy as np

from edge.config import EdgeConfig
from edge.events import DESCRIPTOR
from edge.fall_pipeline import FallPipeline
from edge.processor import EdgeProcessor
from iomt.wire import topics
from iomt.wire.deadletter import decode_deadletter
from iomt.wire.descriptor import Placement
from iomt.wire.frames import encode_frame, make_frame
from iomt.wire.uplink import RecordKind

T0 = 1_764_000_000_000_000
TOPIC = topics.descriptor("s", "p1")
ANKLE = json.dumps({"v": 1, "motion": {"placement": "ankle", "acc_unit": "g", "gyro_unit": None,
                                       "axes": "sensor"}}).encode()


def acc_frame(seq: int) -> tuple[str, bytes, int]:
    values = np.tile([0, 0, 4096], (25, 1)).astype(np.int16)
    frame = make_frame("p1", "acc", seq, T0 + seq * 500_000, 50.0, values, 1 / 4096)
    return topics.data("s", "p1", "acc"), encode_frame(frame), 0


def descriptor_events(events: list) -> list:
    return [e for e in events if e.model == DESCRIPTOR]


def test_a_descriptor_reaches_the_fall_pipeline_and_the_gateway_once() -> None:
    p = EdgeProcessor(EdgeConfig(models=("fall",), site="s"))
    result = p.handle_batch([(TOPIC, ANKLE, 0), acc_frame(0)])
    [event] = descriptor_events(result.events)
    assert event.label == "ankle" and event.detail == {
        "declared": True, "placement": "ankle", "acc_unit": "g", "gyro_unit": None, "axes": "sensor"}
    assert any(r.kind is RecordKind.EVENT and b'"model":"descriptor"' in r.payload for r in result.records)
    [fall] = [x for x in p.pipelines if isinstance(x, FallPipeline)]
    assert fall.verdict("p1").analysed is False
    assert [e.label for e in result.events if e.model == "fall"] == ["placement_not_supported"]
    again = p.handle_batch([(TOPIC, ANKLE, 0)])  # a retained message redelivered (a reconnect)
    assert not descriptor_events(again.events) and not again.deadletters


def test_a_bad_descriptor_is_dead_lettered_naming_the_field_and_loses_nothing_valid() -> None:
    p = EdgeProcessor(EdgeConfig(models=("fall",), site="s"))
    p.handle_batch([(TOPIC, ANKLE, 0)])
    bad = ANKLE.replace(b'"ankle"', b'"elbow"')
    result = p.handle_batch([acc_frame(0), (TOPIC, bad, 0), acc_frame(1)])
    [letter] = [decode_deadletter(d) for d in result.deadletters]
    assert letter.field == "motion.placement" and letter.topic == TOPIC and "elbow" in letter.reason
    assert sum(r.kind is RecordKind.FRAME for r in result.records) == 2  # both frames forwarded
    assert p.descriptors["p1"].placement is Placement.ANKLE  # the last valid one stays


def test_an_empty_retained_payload_withdraws_the_descriptor() -> None:
    p = EdgeProcessor(EdgeConfig(models=("fall",), site="s"))
    p.handle_batch([(TOPIC, ANKLE, 0)])
    result = p.handle_batch([(TOPIC, b"", 0)])
    [event] = descriptor_events(result.events)
    assert event.label == "unknown" and event.detail == {"declared": False, "placement": "unknown"}
    assert "p1" not in p.descriptors and not result.deadletters
