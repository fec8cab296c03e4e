"""The MQTT 3.1.1 packet codec behind the bulk client: lengths, splitting a byte stream, PUBLISH."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iomt.transport import mqtt_codec as codec


@pytest.mark.parametrize(("n", "encoded"), [(0, b"\x00"), (127, b"\x7f"), (128, b"\x80\x01"),
                                             (16_383, b"\xff\x7f"), (16_384, b"\x80\x80\x01"),
                                             (268_435_455, b"\xff\xff\xff\x7f")])
def test_remaining_length_matches_the_standard_examples(n: int, encoded: bytes) -> None:
    assert codec.remaining_length(n) == encoded


def test_a_length_beyond_the_protocol_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="too large"):
        codec.remaining_length(268_435_456)


@given(st.lists(st.tuples(st.text(min_size=1, max_size=40).filter(lambda t: "\x00" not in t),
                          st.binary(max_size=400), st.integers(0, 1), st.integers(1, 65_535)),
                min_size=1, max_size=20),
       st.integers(1, 50))
def test_split_recovers_every_publish_however_the_stream_is_cut(
    messages: list[tuple[str, bytes, int, int]], cut: int
) -> None:
    stream = b"".join(codec.publish(t, p, q, False, m) for t, p, q, m in messages)
    buf = bytearray()
    got: list[tuple[str, int, bytes, int]] = []
    for at in range(0, len(stream), cut):  # arrives in arbitrary pieces
        buf += stream[at : at + cut]
        packets, used = codec.split(buf)
        got.extend(codec.parse_publish(first, bytes(buf[s:e])) for first, s, e in packets)
        del buf[:used]
    assert not buf
    assert got == [(t, q, p, m if q else 0) for t, p, q, m in messages]


def test_set_mid_and_dup_rewrite_only_their_fields() -> None:
    packet = codec.publish("a/b", b"xyz", 1, True, 7)
    again = codec.with_dup(codec.set_mid(packet, 513))
    assert again[0] == packet[0] | codec.DUP
    (first, start, end), = codec.split(bytearray(again))[0]
    assert codec.parse_publish(first, again[start:end]) == ("a/b", 1, b"xyz", 513)


def test_a_malformed_length_is_a_protocol_error() -> None:
    with pytest.raises(codec.ProtocolError):
        codec.split(bytearray(b"\x30\xff\xff\xff\xff\x01"))


def test_qos2_is_refused_both_ways() -> None:
    with pytest.raises(ValueError, match="QoS 2"):
        codec.publish("a", b"", 2)
    with pytest.raises(codec.ProtocolError, match="QoS 2"):
        codec.parse_publish(0x34, b"\x00\x01a\x00\x01")


@pytest.mark.parametrize(("flt", "topic", "expected"), [
    ("iomt/v1/+/+/ecg", "iomt/v1/s/d/ecg", True),
    ("iomt/v1/+/+/ecg", "iomt/v1/s/d/acc", False),
    ("iomt/v1/s/#", "iomt/v1/s", True),
    ("iomt/v1/s/#", "iomt/v1/s/d/e/f", True),
    ("iomt/+", "iomt/v1/x", False),
    ("#", "$SYS/broker/load", False),
    ("$SYS/#", "$SYS/broker/load", True),
    ("a/b", "a/b/c", False),
])
def test_topic_filters_match_like_the_broker(flt: str, topic: str, expected: bool) -> None:
    assert codec.topic_matches(flt, topic) is expected


def test_connect_carries_will_and_credentials() -> None:
    packet = codec.connect("edge-1", 30, False, codec.Will("s/_edge/n/availability", b"offline"), "u", "p")
    flags = packet[2 + 6 + 1]  # fixed header (2), "MQTT" string (6), level (1)
    assert flags == 0x80 | 0x40 | 0x20 | (1 << 3) | 0x04
    assert packet.endswith(b"\x00\x01u\x00\x01p")
