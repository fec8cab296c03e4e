"""The streams the system knows, with the shape each one must have.

A frame for a stream that is not listed here is rejected (field ``stream``): an edge node cannot
window or store a signal whose meaning it does not know.

:class:`Stream` is the closed set of names. Decoded frames and readings carry the name as the plain
string (``Frame.stream``), which equals the member (``frame.stream == Stream.ACC``) and hashes the
same: the edge looks up ``(device, stream)`` keys for every frame, and such a lookup with a member in
the key measured about 15 % slower than with the plain string. The tables below are keyed the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Stream(StrEnum):
    """The name of a stream (the last level of a data topic)."""

    ECG = "ecg"
    ACC = "acc"
    GYRO = "gyro"
    EDA = "eda"
    PPG = "ppg"
    RESP = "resp"
    VITALS = "vitals"
    STATUS = "status"
    IMAGE = "image"


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """What a stream carries: channel count, a plausible sample-rate range and the unit."""

    name: Stream
    channels: int
    min_rate_hz: float
    max_rate_hz: float
    unit: str
    description: str


#: The spec of every stream, keyed by the plain name (see the module docstring).
STREAMS: dict[str, StreamSpec] = {
    s.name.value: s
    for s in (
        StreamSpec(Stream.ECG, 1, 50.0, 2000.0, "mV", "single-lead electrocardiogram"),
        StreamSpec(Stream.ACC, 3, 10.0, 1000.0, "g", "3-axis accelerometer, x y z in the sensor's own right-handed "
                   "axes (any mount: the fall detector is orientation-invariant)"),
        StreamSpec(Stream.GYRO, 3, 10.0, 1000.0, "deg/s", "3-axis gyroscope, the accelerometer's axes"),
        StreamSpec(Stream.EDA, 1, 1.0, 1000.0, "uS", "electrodermal activity (skin conductance)"),
        StreamSpec(Stream.PPG, 1, 10.0, 1000.0, "a.u.", "photoplethysmogram"),
        StreamSpec(Stream.RESP, 1, 1.0, 1000.0, "a.u.", "respiration"),
        StreamSpec(Stream.VITALS, 0, 0.0, 0.0, "", "low-rate vital signs as named JSON values"),
        StreamSpec(Stream.STATUS, 0, 0.0, 0.0, "", "device status as named JSON values (battery_pct, ...)"),
        StreamSpec(Stream.IMAGE, 0, 0.0, 0.0, "", "imaging frames, chunked (iomt.wire.chunks), not frames/JSON"),
    )
}

#: Streams that carry waveforms in binary frames (rate and channel checks apply).
WAVEFORM_STREAMS = frozenset(name for name, spec in STREAMS.items() if spec.channels > 0)

#: Streams whose messages are chunks of large objects (iomt.wire.chunks), neither frames nor readings.
CHUNKED_STREAMS = frozenset({Stream.IMAGE.value})


def stream_spec(name: str) -> StreamSpec | None:
    """Return the spec of a known stream, or ``None``."""
    return STREAMS.get(name)


def is_reading_stream(name: str) -> bool:
    """True for streams that carry named JSON values (stored as readings), not waveform frames."""
    spec = STREAMS.get(name)
    return spec is not None and spec.channels == 0 and name not in CHUNKED_STREAMS
