"""Wire contract v1: topics, payload codecs and the error every decoder raises."""

from iomt.wire.errors import DecodeError
from iomt.wire.events import Event, decode_event, encode_event
from iomt.wire.frames import (
    FRAME_VERSION,
    Frame,
    Reading,
    decode_payload,
    encode_frame,
    encode_reading,
)
from iomt.wire.topics import Topic, TopicKind, parse_topic

__all__ = [
    "FRAME_VERSION",
    "DecodeError",
    "Event",
    "Frame",
    "Reading",
    "Topic",
    "TopicKind",
    "decode_event",
    "decode_payload",
    "encode_event",
    "encode_frame",
    "encode_reading",
    "parse_topic",
]
