"""The streams the system knows, with the shape each one must have.

A frame for a stream that is not listed here is rejected (field ``stream``): an edge node cannot
window or store a signal whose meaning it does not know.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """What a stream carries: channel count, a plausible sample-rate range and the unit."""

    name: str
    channels: int
    min_rate_hz: float
    max_rate_hz: float
    unit: str
    description: str


STREAMS: dict[str, StreamSpec] = {
    s.name: s
    for s in (
        StreamSpec("ecg", 1, 50.0, 2000.0, "mV", "single-lead electrocardiogram"),
        StreamSpec("acc", 3, 10.0, 1000.0, "g", "3-axis accelerometer"),
        StreamSpec("gyro", 3, 10.0, 1000.0, "deg/s", "3-axis gyroscope"),
        StreamSpec("eda", 1, 1.0, 1000.0, "uS", "electrodermal activity (skin conductance)"),
        StreamSpec("ppg", 1, 10.0, 1000.0, "a.u.", "photoplethysmogram"),
        StreamSpec("resp", 1, 1.0, 1000.0, "a.u.", "respiration"),
        StreamSpec("vitals", 0, 0.0, 0.0, "", "low-rate vital signs as named JSON values"),
        StreamSpec("status", 0, 0.0, 0.0, "", "device status as named JSON values (battery_pct, ...)"),
        StreamSpec("image", 0, 0.0, 0.0, "", "imaging frames, chunked (iomt.wire.chunks), not frames/JSON"),
    )
}

#: Streams that carry waveforms in binary frames (rate and channel checks apply).
WAVEFORM_STREAMS = frozenset(name for name, spec in STREAMS.items() if spec.channels > 0)

#: Streams whose messages are chunks of large objects (iomt.wire.chunks), neither frames nor readings.
CHUNKED_STREAMS = frozenset({"image"})


def stream_spec(name: str) -> StreamSpec | None:
    """Return the spec of a known stream, or ``None``."""
    return STREAMS.get(name)


def is_reading_stream(name: str) -> bool:
    """True for streams that carry named JSON values (stored as readings), not waveform frames."""
    spec = STREAMS.get(name)
    return spec is not None and spec.channels == 0 and name not in CHUNKED_STREAMS
