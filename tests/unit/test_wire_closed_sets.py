"""The closed sets of the wire contract as enums (streams, frame sample types, pixel types, availability)
and the dead-letter codec, which validates like every other decoder."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest

from iomt import transport
from iomt.wire.availability import AvailabilityState, decode_availability
from iomt.wire.chunks import IMAGE_HEADER, Image, PixelType, decode_image, encode_image
from iomt.wire.deadletter import KEEP_BYTES, DeadLetter, decode_deadletter, encode_deadletter, make_deadletter
from iomt.wire.errors import DecodeError
from iomt.wire.frames import DTYPES, HEADER, SampleType, decode_frame, decode_payload, encode_frame, make_frame
from iomt.wire.streams import CHUNKED_STREAMS, STREAMS, WAVEFORM_STREAMS, Stream, is_reading_stream

T0 = 1_764_000_000_000_000


def test_every_stream_has_a_spec_keyed_by_its_plain_name() -> None:
    assert set(STREAMS) == {s.value for s in Stream}
    for name, spec in STREAMS.items():
        assert type(name) is str and spec.name is Stream(name)
    assert {Stream.ECG, Stream.ACC, Stream.GYRO, Stream.EDA, Stream.PPG, Stream.RESP} == WAVEFORM_STREAMS
    assert {Stream.IMAGE} == CHUNKED_STREAMS
    assert all(type(name) is str for name in WAVEFORM_STREAMS | CHUNKED_STREAMS)
    assert is_reading_stream(Stream.VITALS) and is_reading_stream("status") and not is_reading_stream(Stream.IMAGE)


def test_decoded_frames_carry_the_plain_stream_name_which_equals_the_member() -> None:
    frame = decode_frame(encode_frame(make_frame("p1", Stream.ACC, 0, T0, 50.0, np.zeros((5, 3), np.int16))))
    assert frame.stream == Stream.ACC and type(frame.stream) is str
    reading = decode_payload(b'{"v":1,"device":"p1","stream":"vitals","seq":1,"t":1764000000,"values":{"hr":61}}')
    assert reading.stream == Stream.VITALS


def test_stream_errors_show_the_name_not_the_enum() -> None:
    payload = encode_frame(make_frame("p1", "acc", 0, T0, 5000.0, np.zeros((5, 3), np.int16)))
    with pytest.raises(DecodeError, match=r"for stream 'acc'$"):
        decode_frame(payload)
    with pytest.raises(DecodeError, match="stream 'ecg' has 1 channel"):
        decode_payload(b'{"v":1,"device":"p1","stream":"ecg","seq":1,"t":1764000000,"rate":250,"samples":[[1,2]]}')


@pytest.mark.parametrize(("dtype", "kind"), [(np.int16, SampleType.INT16), (np.float32, SampleType.FLOAT32),
                                             (np.int32, SampleType.INT32)])
def test_the_frame_dtype_byte_is_the_sample_type(dtype: type, kind: SampleType) -> None:
    payload = encode_frame(make_frame("p1", "ecg", 0, T0, 250.0, np.arange(4, dtype=dtype)))
    assert payload[3] == kind and DTYPES[kind] == np.dtype(dtype).newbyteorder("<")
    assert set(DTYPES) == {t.value for t in SampleType}


def test_an_unknown_sample_type_is_refused_listing_the_known_ones() -> None:
    payload = bytearray(encode_frame(make_frame("p1", "ecg", 0, T0, 250.0, np.arange(4, dtype=np.int16))))
    payload[3] = 9
    with pytest.raises(DecodeError, match=r"unknown sample type code 9 \(1=int16, 2=float32, 3=int32\)") as info:
        decode_frame(bytes(payload))
    assert info.value.field == "dtype" and HEADER.size == 40


def test_the_image_pixel_type() -> None:
    obj = encode_image(Image(3, T0, np.zeros((2, 4), np.uint8)))
    assert obj[3] == PixelType.GRAY8
    bad = bytearray(obj)
    bad[3] = 2
    with pytest.raises(DecodeError, match=r"unknown pixel type 2 \(1=gray8\)") as info:
        decode_image(bytes(bad))
    assert info.value.field == "dtype" and IMAGE_HEADER.size == 28


def test_availability_payloads() -> None:
    assert decode_availability(b"online") is AvailabilityState.ONLINE
    assert decode_availability(b"offline") is AvailabilityState.OFFLINE
    assert (transport.ONLINE, transport.OFFLINE) == (b"online", b"offline")
    assert AvailabilityState.ONLINE.payload == transport.ONLINE


@pytest.mark.parametrize("payload", [b"", b"ONLINE", b"online\n", b"\xff\xfe", b"maybe" * 100])
def test_other_availability_payloads_are_refused(payload: bytes) -> None:
    with pytest.raises(DecodeError, match="is not 'online' or 'offline'") as info:
        decode_availability(payload)
    assert info.value.field == "availability" and len(str(info.value)) < 120


def test_the_gateway_records_only_real_availability_states(tmp_path: Path) -> None:
    from gateway.listener import BrokerListener
    from gateway.store.sqlite import SqliteStore
    from iomt.transport import ReceivedMessage
    from iomt.wire import topics

    store = SqliteStore(tmp_path / "gw.sqlite")
    try:
        listener = BrokerListener(bus=None, store=store)  # type: ignore[arg-type]  # start() is not called
        for node, payload in (("edge-1", b"online"), ("edge-2", b"offline"), ("edge-3", b"rebooting")):
            listener.on_availability(ReceivedMessage(topics.availability("ward-1", node), payload, 1, True))
        assert [(e.node, e.status) for e in store.edges()] == [("edge-1", "online"), ("edge-2", "offline")]
        assert listener.malformed == 1
    finally:
        store.close()


def letter() -> DeadLetter:
    return make_deadletter("iomt/v1/w/p1/ecg", "seq", "not an integer", "edge-1", T0, b"\x00" * 2000)


def test_dead_letter_round_trip_keeps_the_head_of_the_payload() -> None:
    record = letter()
    assert decode_deadletter(encode_deadletter(record)) == record
    assert record.payload_len == 2000 and len(base64.b64decode(record.payload_head_b64)) == KEEP_BYTES


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"t_us": "1"}, "t_us"),
        ({"payload_len": True}, "payload_len"),
        ({"payload_len": -1}, "payload_len"),
        ({"reason": None}, "reason"),
        ({"node": 7}, "node"),
        ({"payload_head_b64": "not base64!"}, "payload_head_b64"),
        ({"payload_len": 3}, "payload_head_b64"),  # a head longer than the payload it is the head of
        ({"extra": 1}, "extra"),
    ],
)
def test_bad_dead_letters_name_the_field(change: dict[str, object], field: str) -> None:
    body = json.loads(encode_deadletter(letter()))
    body.update(change)
    with pytest.raises(DecodeError) as info:
        decode_deadletter(json.dumps(body).encode())
    assert info.value.field == field


@pytest.mark.parametrize(("payload", "field"), [(b"{", "json"), (b"[]", "json"), (b'{"topic": "t"}', "field")])
def test_malformed_dead_letters_are_refused(payload: bytes, field: str) -> None:
    with pytest.raises(DecodeError) as info:
        decode_deadletter(payload)
    assert info.value.field == field
