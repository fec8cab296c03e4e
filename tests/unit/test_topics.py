from __future__ import annotations

import pytest

from iomt.wire import topics
from iomt.wire.errors import DecodeError
from iomt.wire.topics import TopicKind, parse_topic


@pytest.mark.parametrize(
    ("topic", "kind", "device", "name"),
    [
        (topics.data("ward-3", "patient-1", "ecg"), TopicKind.DATA, "patient-1", "ecg"),
        (topics.event("ward-3", "patient-1", "fall"), TopicKind.EVENT, "patient-1", "fall"),
        (topics.truth("ward-3", "patient-1", "beats"), TopicKind.TRUTH, "patient-1", "beats"),
        (topics.availability("ward-3", "edge-a"), TopicKind.AVAILABILITY, None, "edge-a"),
        (topics.model_manifest("ward-3", "ecg"), TopicKind.MODEL, None, "ecg"),
        (topics.deadletter("ward-3", "edge-a"), TopicKind.DEADLETTER, None, "edge-a"),
        (topics.descriptor("ward-3", "patient-1"), TopicKind.DESCRIPTOR, "patient-1", "_descriptor"),
    ],
)
def test_built_topics_parse_back(topic: str, kind: TopicKind, device: str | None, name: str) -> None:
    parsed = parse_topic(topic)
    assert parsed.kind is kind and parsed.site == "ward-3" and parsed.device == device and parsed.name == name


def test_layout() -> None:
    assert topics.data("s", "d", "ecg") == "iomt/v1/s/d/ecg"
    assert topics.availability("s", "n") == "iomt/v1/s/_edge/n/availability"
    assert topics.descriptor("s", "d") == "iomt/v1/s/d/_descriptor"


def test_the_edges_data_subscription_delivers_descriptors_and_only_under_a_device() -> None:
    from iomt.transport.mqtt_codec import topic_matches

    assert topic_matches(topics.data_filter("s"), topics.descriptor("s", "d"))
    with pytest.raises(DecodeError):
        parse_topic("iomt/v1/s/_edge/_descriptor")


@pytest.mark.parametrize(
    "topic",
    ["iomt/v2/s/d/ecg", "other/v1/s/d/ecg", "iomt/v1/s/d", "iomt/v1/s/_x/ecg", "iomt/v1/s/d/bad stream",
     "iomt/v1/s/d/ecg/extra/parts"],
)
def test_foreign_topics_are_rejected(topic: str) -> None:
    with pytest.raises(DecodeError) as info:
        parse_topic(topic)
    assert info.value.field == "topic"


def test_building_with_a_reserved_name_is_refused() -> None:
    with pytest.raises(ValueError, match="device"):
        topics.data("s", "_edge", "ecg")
    with pytest.raises(ValueError, match="stream"):
        topics.data("s", "d", "a/b")


def test_filters_match_the_layout() -> None:
    assert topics.data_filter("s") == "iomt/v1/s/+/+"
    assert topics.availability_filter() == "iomt/v1/+/_edge/+/availability"
