"""Binary frame and JSON codec: round trips and every rejection names its field."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from iomt.wire.errors import DecodeError
from iomt.wire.frames import (
    FRAME_VERSION,
    HEADER,
    HEADER_SIZE,
    HEADER_V1,
    Frame,
    Reading,
    decode_payload,
    encode_frame,
    encode_reading,
    make_frame,
)

T0 = 1_764_000_000_000_000


def ecg_frame(seq: int = 7, n: int = 125) -> Frame:
    raw = (np.sin(np.arange(n) / 5) * 1000).astype(np.int16)
    return make_frame("patient-0001", "ecg", seq, T0, 250.0, raw, scale=0.001)


def patch_header(payload: bytes, **fields: object) -> bytes:
    names = ["magic", "version", "dtype", "channels", "dev_len", "stream_len", "flags",
             "seq", "t0_us", "rate", "scale", "n_samples", "boot"]
    values = dict(zip(names, HEADER.unpack_from(payload), strict=True))
    values.update(fields)
    return HEADER.pack(*(values[n] for n in names)) + payload[HEADER_SIZE:]


def test_binary_round_trip_keeps_every_field() -> None:
    frame = ecg_frame()
    decoded = decode_payload(encode_frame(frame), device="patient-0001", stream="ecg")
    assert isinstance(decoded, Frame)
    assert (decoded.device, decoded.stream, decoded.seq, decoded.t0_us) == ("patient-0001", "ecg", 7, T0)
    assert decoded.sample_rate == 250.0
    assert decoded.scale == pytest.approx(0.001)
    np.testing.assert_array_equal(decoded.samples, frame.samples)
    assert decoded.t_last_us == T0 + round(124 * 1e6 / 250)
    np.testing.assert_allclose(decoded.values()[:, 0], frame.samples[:, 0] * 0.001, rtol=1e-6)


@settings(max_examples=60, deadline=None)
@given(
    seq=st.integers(0, 2**32 - 1),
    samples=arrays(np.float32, st.tuples(st.integers(1, 300), st.just(3)),
                   elements=st.floats(-16, 16, width=32, allow_nan=False)),
    rate=st.floats(10, 1000),
)
def test_float_frames_round_trip(seq: int, samples: np.ndarray, rate: float) -> None:
    frame = make_frame("wrist-3", "acc", seq, T0, rate, samples)
    decoded = decode_payload(encode_frame(frame))
    assert isinstance(decoded, Frame)
    assert decoded.seq == seq and decoded.sample_rate == rate
    np.testing.assert_array_equal(decoded.samples, samples)


def test_reading_round_trip() -> None:
    reading = Reading("bed-12", "vitals", 3, T0, {"hr": 71.0, "spo2": 97.5})
    decoded = decode_payload(encode_reading(reading), device="bed-12", stream="vitals")
    assert decoded == reading


def test_json_waveform_decodes_to_a_frame() -> None:
    body = {"v": 1, "device": "third-party", "stream": "ecg", "seq": 1, "t": T0 / 1e6, "rate": 250,
            "samples": [0.1, 0.2, 0.3]}
    decoded = decode_payload(json.dumps(body).encode())
    assert isinstance(decoded, Frame)
    assert decoded.n_samples == 3 and decoded.channels == 1


GOOD = encode_frame(ecg_frame())


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (GOOD[:20], "header"),
        (GOOD[:-10], "n_samples"),
        (GOOD + b"\x00\x00", "n_samples"),
        (patch_header(GOOD, version=9), "version"),
        (patch_header(GOOD, dtype=77), "dtype"),
        (patch_header(GOOD, rate=0.0), "sample_rate"),
        (patch_header(GOOD, rate=1e9), "sample_rate"),
        (patch_header(GOOD, rate=float("nan")), "sample_rate"),
        (patch_header(GOOD, scale=-1.0), "scale"),
        (patch_header(GOOD, channels=3), "channels"),
        (patch_header(GOOD, t0_us=5), "t0_us"),
        (patch_header(GOOD, n_samples=0), "n_samples"),
        (b"XX" + GOOD[2:], "magic"),
        (b"", "payload"),
        (b"{not json", "json"),
        (b'{"v": 3, "device": "a", "stream": "vitals", "seq": 1, "t": 1764000000, "values": {"hr": 1}}', "version"),
        (b'{"v": 1, "device": "a", "stream": "weather", "seq": 1, "t": 1764000000, "values": {"x": 1}}', "stream"),
        (b'{"v": 1, "device": "a", "stream": "vitals", "seq": -1, "t": 1764000000, "values": {"hr": 1}}', "seq"),
        (b'{"v": 1, "device": "a", "stream": "vitals", "seq": 1, "t": 1764000000, "values": {}}', "values"),
        (b'{"v": 1, "device": "_sys", "stream": "vitals", "seq": 1, "t": 1764000000, "values": {"hr": 1}}', "device"),
        (b'{"v": 1, "device": "a", "stream": "vitals", "seq": 1, "t": 1764000000, "values": {"hr": NaN}}', "values"),
        (b'{"v": 1, "device": "a", "stream": "ecg", "seq": 1, "t": 1764000000, "rate": 0, "samples": [1]}', "rate"),
        (b'{"v": 1, "device": "a", "stream": "ecg", "seq": 1, "t": 1764000000, "rate": 250, "samples": [1, Infinity]}',
         "samples"),
    ],
)
def test_bad_payloads_are_rejected_naming_the_field(payload: bytes, field: str) -> None:
    with pytest.raises(DecodeError) as info:
        decode_payload(payload)
    assert info.value.field == field
    assert field in str(info.value)


def test_nan_samples_in_a_float_frame_are_rejected() -> None:
    samples = np.ones((10, 3), dtype=np.float32)
    samples[4, 1] = np.nan
    with pytest.raises(DecodeError, match="samples"):
        decode_payload(encode_frame(make_frame("w", "acc", 1, T0, 50, samples)))


def test_oversized_payload_is_rejected() -> None:
    with pytest.raises(DecodeError) as info:
        decode_payload(GOOD, max_bytes=100)
    assert info.value.field == "payload"


def test_payload_must_match_its_topic() -> None:
    with pytest.raises(DecodeError) as info:
        decode_payload(GOOD, device="someone-else", stream="ecg")
    assert info.value.field == "device"
    with pytest.raises(DecodeError) as info:
        decode_payload(GOOD, device="patient-0001", stream="acc")
    assert info.value.field == "stream"


def test_header_layout_is_stable() -> None:
    # The wire format is a contract with devices in the field: its size must not drift silently.
    assert HEADER_SIZE == 40  # v2: v1's 36 bytes and the boot id
    assert struct.calcsize("<2sBBBBBBIqdfII") == HEADER_SIZE
    assert struct.calcsize("<2sBBBBBBIqdfI") == HEADER_V1.size == 36


def test_v2_carries_the_boot_id_and_v1_still_decodes_as_boot_0() -> None:
    frame = make_frame("patient-0001", "ecg", 7, T0, 250.0, np.arange(5, dtype=np.int16), 0.001, boot=0xDEADBEEF)
    v2 = encode_frame(frame)
    assert v2[2] == FRAME_VERSION == 2
    decoded = decode_payload(v2)
    assert isinstance(decoded, Frame) and decoded.boot == 0xDEADBEEF and decoded.seq == 7
    # the same frame as a v1 device sends it: the v1 header, no boot id
    fields = list(HEADER.unpack_from(v2))[:-1]
    fields[1] = 1
    v1 = HEADER_V1.pack(*fields) + v2[HEADER_SIZE:]
    old = decode_payload(v1)
    assert isinstance(old, Frame) and old.boot == 0 and old.seq == 7 and old.t0_us == T0
    np.testing.assert_array_equal(old.samples, decoded.samples)
    assert old.encoded == v1  # forwarded as received


def test_json_v2_carries_the_boot_id_and_v1_still_decodes() -> None:
    reading = Reading("patient-0001", "vitals", 3, T0, {"hr": 71.0}, boot=42)
    decoded = decode_payload(encode_reading(reading))
    assert decoded == reading
    v1 = json.dumps({"v": 1, "device": "patient-0001", "stream": "vitals", "seq": 3, "t": T0 / 1e6,
                     "values": {"hr": 71.0}}).encode()
    assert decode_payload(v1) == Reading("patient-0001", "vitals", 3, T0, {"hr": 71.0}, boot=0)


@pytest.mark.parametrize(("body", "field"), [
    ({"t": 1e308}, "t"), ({"t": -1e308}, "t"), ({"t": 10**400}, "t"), ({"seq": 10**400}, "seq"),
    ({"boot": 2**32}, "boot"), ({"boot": -1}, "boot"), ({"values": {"hr": 10**400}}, "values"),
    ({"stream": "eda", "rate": 10**400, "samples": [1.0]}, "rate"),
    ({"stream": "eda", "rate": 4.0, "samples": [10**400]}, "samples"),
])
def test_numbers_beyond_any_clock_or_float_are_rejected_naming_the_field(body: dict[str, object], field: str) -> None:
    message = {"v": 2, "device": "patient-0001", "stream": "vitals", "seq": 3, "t": T0 / 1e6, "values": {"hr": 1}}
    with pytest.raises(DecodeError) as info:
        decode_payload(json.dumps({**message, **body}).encode())
    assert info.value.field == field


@pytest.mark.parametrize("payload", [b"[" * 100_000, b'{"v": 2, "seq": ' + b"1" * 5000 + b"}"])
def test_json_that_breaks_the_parser_itself_is_a_decode_error(payload: bytes) -> None:
    with pytest.raises(DecodeError) as info:
        decode_payload(payload if payload[:1] == b"{" else b" " + payload)
    assert info.value.field == "json"


def test_int16_samples_fit_any_amplitude_at_a_power_of_two_scale_and_never_clip() -> None:
    from iomt.wire.frames import int16_samples

    for peak in (1e-6, 0.004, 1.0, 32.767, 32.768, 100.0, 4095.0, 65535.0, 3.3e6, 2.0**-10 * 32767):
        x = np.array([peak, -peak / 3, peak / 7, 0.0])
        counts, scale = int16_samples(x)
        assert counts.dtype == np.int16 and np.abs(counts).max() <= 32767
        assert np.abs(counts).max() > 32767 / 2  # the finest power of two that fits: at most one bit unused
        assert scale == 2.0 ** round(np.log2(scale))
        np.testing.assert_allclose(counts * scale, x, atol=scale / 2)
        frame = decode_payload(encode_frame(make_frame("p", "ppg", 0, T0, 64.0, counts, scale)))
        assert isinstance(frame, Frame)
        np.testing.assert_allclose(frame.values()[:, 0], x, rtol=1e-6, atol=scale / 2)
    counts, scale = int16_samples(np.zeros(4))
    assert scale == 1.0 and not counts.any()
    with pytest.raises(ValueError, match="NaN or infinity"):
        int16_samples(np.array([1.0, np.nan]))
