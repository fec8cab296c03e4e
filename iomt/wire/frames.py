"""Payload codec v2 (v1 still decoded): binary waveform frames and JSON readings.

Binary frame (little-endian)::

    offset size field
    0      2    magic        b"IM"
    2      1    version      2 (1: the same header without ``boot``, 36 bytes; decoded with boot 0)
    3      1    dtype        SampleType: 1 = int16, 2 = float32, 3 = int32
    4      1    channels     samples are interleaved, channel-fastest
    5      1    device_len
    6      1    stream_len
    7      1    flags        reserved, 0
    8      4    seq          per-stream sequence number (u32)
    12     8    t0_us        device time of the first sample, microseconds since the Unix epoch
    20     8    sample_rate  Hz (f64)
    28     4    scale        physical value = raw * scale (f32)
    32     4    n_samples    samples per channel
    36     4    boot         the device's boot/session id (u32): a new value at every start of the
                             device, so that a sequence starting again at 0 is a new session, not
                             a run of duplicates (0: unknown, what every v1 frame decodes to)
    40     ...  device id (utf-8), stream name (utf-8), then n_samples * channels samples

A JSON object is accepted for low-rate data and third-party devices: ``{"v": 2, "device": ...,
"stream": ..., "seq": ..., "boot": ..., "t": <epoch seconds>, "values": {name: number}}`` for
readings, or the same with ``"rate"`` and ``"samples"`` (a list, or a list of per-sample channel
lists) for a waveform; ``"boot"`` is optional (0), and ``"v": 1`` (which has none) is still decoded.
Every decoder validates every field and raises :class:`DecodeError` naming it, and nothing else.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

import numpy as np

from iomt.wire.errors import DecodeError
from iomt.wire.fields import load_json
from iomt.wire.streams import STREAMS, StreamSpec
from iomt.wire.topics import check_identifier

FRAME_VERSION = 2
#: Versions this codec decodes (binary frames and JSON alike).
DECODED_VERSIONS = (1, 2)
MAGIC = b"IM"
#: The v2 header: the v1 header with the boot id appended (field indices of v1 unchanged).
HEADER = struct.Struct("<2sBBBBBBIqdfII")
HEADER_SIZE = HEADER.size
HEADER_V1 = struct.Struct("<2sBBBBBBIqdfI")
MAX_BOOT = 2**32 - 1
DEFAULT_MAX_PAYLOAD = 256 * 1024
MAX_SAMPLES = 1 << 16
#: Device clocks are trusted between these instants (2000-01-01 and 2100-01-01, UTC).
MIN_T_US = 946_684_800_000_000
MAX_T_US = 4_102_444_800_000_000
MAX_READING_VALUES = 64



class SampleType(IntEnum):
    """The ``dtype`` byte of a binary frame: how its samples are stored."""

    INT16 = 1
    FLOAT32 = 2
    INT32 = 3


#: numpy dtype of each sample type, keyed by the plain code as it comes out of the header.
DTYPES: dict[int, np.dtype[Any]] = {
    SampleType.INT16.value: np.dtype("<i2"),
    SampleType.FLOAT32.value: np.dtype("<f4"),
    SampleType.INT32.value: np.dtype("<i4"),
}
_DTYPE_CODES = {dt: code for code, dt in DTYPES.items()}
_DTYPE_NAMES = ", ".join(f"{t.value}={t.name.lower()}" for t in SampleType)


@dataclass(frozen=True, slots=True)
class Frame:
    """A block of waveform samples from one device stream.

    ``samples`` holds the raw values, shape ``(n_samples, channels)``; ``values()`` scales them.
    """

    device: str
    stream: str
    seq: int
    t0_us: int
    sample_rate: float
    samples: np.ndarray
    scale: float = 1.0
    #: the device's boot/session id (0: unknown, a v1 frame); with ``seq`` it identifies the frame
    boot: int = 0
    encoded: bytes | None = field(default=None, compare=False, repr=False)

    @property
    def n_samples(self) -> int:
        return int(self.samples.shape[0])

    @property
    def channels(self) -> int:
        return int(self.samples.shape[1])

    @property
    def t_last_us(self) -> int:
        """Device time of the last sample."""
        return self.t0_us + round((self.n_samples - 1) * 1e6 / self.sample_rate)

    def values(self) -> np.ndarray:
        """Samples in physical units as float32, shape ``(n_samples, channels)``."""
        return self.samples.astype(np.float32) * np.float32(self.scale)


@dataclass(frozen=True, slots=True)
class Reading:
    """A set of named low-rate values (vital signs) at one instant."""

    device: str
    stream: str
    seq: int
    t_us: int
    values: Mapping[str, float]
    #: the device's boot/session id, as in :class:`Frame`
    boot: int = 0


def encode_frame(frame: Frame) -> bytes:
    """Encode a frame to its binary form (the stored ``encoded`` bytes when present)."""
    if frame.encoded is not None:
        return frame.encoded
    samples = np.ascontiguousarray(frame.samples)
    code = _DTYPE_CODES.get(samples.dtype.newbyteorder("<"))
    if code is None:
        raise ValueError(f"unsupported sample dtype {samples.dtype}; use int16, int32 or float32")
    device = frame.device.encode()
    stream = frame.stream.encode()
    header = HEADER.pack(
        MAGIC, FRAME_VERSION, code, frame.channels, len(device), len(stream), 0,
        frame.seq, frame.t0_us, frame.sample_rate, frame.scale, frame.n_samples, frame.boot,
    )
    return header + device + stream + samples.astype(DTYPES[code], copy=False).tobytes()


def make_frame(
    device: str,
    stream: str,
    seq: int,
    t0_us: int,
    sample_rate: float,
    samples: np.ndarray,
    scale: float = 1.0,
    boot: int = 0,
) -> Frame:
    """Build a frame; 1-D ``samples`` become one channel."""
    arr = np.asarray(samples)
    if arr.ndim == 1:
        arr = arr[:, None]
    return Frame(device, stream, seq, t0_us, float(sample_rate), arr, float(scale), boot)


#: Largest int16 count a scaled block may use: the whole range, since the block's peak is known.
INT16_LIMIT = 32767


def int16_samples(values: np.ndarray) -> tuple[np.ndarray, float]:
    """``(counts, scale)`` to send ``values`` (physical units, any shape) as int16 without clipping.

    The scale is the smallest power of two at which the block's peak fits int16 (an all-zero block
    gets 1.0): every block keeps 15-16 bits of precision relative to its own peak, whatever its units,
    a PPG in ADC counts thousands of units tall or an EDA in siemens (1e-6) alike. A fixed scale
    cannot do both: the 1.0.0 devices' 0.001 per count clipped a PPG in counts at +-32.767 and left an
    EDA in siemens a handful of steps. Powers of two keep consecutive frames on one of a few scales,
    and ``counts * scale`` exact. Non-finite values are refused (``ValueError``): a frame can carry none.
    """
    x = np.asarray(values, dtype=np.float64)
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if not math.isfinite(peak):
        raise ValueError("values contain NaN or infinity; a frame cannot carry them")
    if peak == 0.0:
        return np.zeros(x.shape, dtype=np.int16), 1.0
    mantissa, exponent = math.frexp(peak / INT16_LIMIT)  # peak / LIMIT = mantissa * 2**exponent, 0.5 <= m < 1
    scale = math.ldexp(1.0, exponent - 1 if mantissa == 0.5 else exponent)
    counts = np.rint(x * (1.0 / scale))
    return np.clip(counts, -INT16_LIMIT - 1, INT16_LIMIT).astype(np.int16), scale


def encode_reading(reading: Reading) -> bytes:
    """Encode a reading to compact JSON."""
    body = {
        "v": FRAME_VERSION,
        "device": reading.device,
        "stream": reading.stream,
        "seq": reading.seq,
        "boot": reading.boot,
        "t": reading.t_us / 1e6,
        "values": dict(reading.values),
    }
    return json.dumps(body, separators=(",", ":")).encode()


def decode_payload(
    payload: bytes,
    *,
    device: str | None = None,
    stream: str | None = None,
    max_bytes: int = DEFAULT_MAX_PAYLOAD,
) -> Frame | Reading:
    """Decode a binary frame or a JSON message.

    ``device`` and ``stream``, when given (from the topic), must match the payload's own.
    """
    if len(payload) > max_bytes:
        raise DecodeError("payload", f"{len(payload)} bytes exceeds the {max_bytes}-byte limit")
    if len(payload) == 0:
        raise DecodeError("payload", "empty payload")
    if payload[:2] == MAGIC:
        frame = decode_frame(payload)
        _match_topic(frame.device, frame.stream, device, stream)
        return frame
    if payload[:1] in (b"{", b" ", b"\n", b"\t", b"\r"):
        message = decode_json(payload)
        _match_topic(message.device, message.stream, device, stream)
        return message
    raise DecodeError("magic", f"payload starts with {payload[:2]!r}: neither a binary frame (b'IM') nor JSON")


def decode_frame(payload: bytes) -> Frame:
    """Decode and validate one binary frame."""
    if len(payload) < HEADER_V1.size:
        raise DecodeError("header", f"truncated: {len(payload)} bytes, the header alone is {HEADER_V1.size}")
    if payload[:2] != MAGIC:
        raise DecodeError("magic", f"expected {MAGIC!r}, got {bytes(payload[:2])!r}")
    version = payload[2]
    if version == FRAME_VERSION:
        if len(payload) < HEADER_SIZE:
            raise DecodeError("header", f"truncated: {len(payload)} bytes, the v2 header alone is {HEADER_SIZE}")
        (_magic, _version, dtype_code, channels, dev_len, stream_len, _flags,
         seq, t0_us, rate, scale, n_samples, boot) = HEADER.unpack_from(payload)
        header_size = HEADER_SIZE
    elif version == 1:
        (_magic, _version, dtype_code, channels, dev_len, stream_len, _flags,
         seq, t0_us, rate, scale, n_samples) = HEADER_V1.unpack_from(payload)
        boot, header_size = 0, HEADER_V1.size
    else:
        raise DecodeError("version", f"unknown frame format version {version} (this node decodes "
                                     f"{', '.join(map(str, DECODED_VERSIONS))})")
    dtype = DTYPES.get(dtype_code)
    if dtype is None:
        raise DecodeError("dtype", f"unknown sample type code {dtype_code} ({_DTYPE_NAMES})")
    ids_end = header_size + dev_len + stream_len
    if len(payload) < ids_end:
        raise DecodeError("header", f"truncated inside the device/stream names ({len(payload)} < {ids_end} bytes)")
    device, stream, spec = _frame_ids(payload[header_size:ids_end], dev_len)
    if channels != spec.channels:
        raise DecodeError("channels", f"stream {stream!r} has {spec.channels} channel(s), frame says {channels}")
    _check_time("t0_us", t0_us)
    _check_rate(rate, spec)
    if not math.isfinite(scale) or scale <= 0:
        raise DecodeError("scale", f"must be a finite positive number, got {scale}")
    if not 1 <= n_samples <= MAX_SAMPLES:
        raise DecodeError("n_samples", f"must be 1..{MAX_SAMPLES}, got {n_samples}")
    expected = n_samples * channels * dtype.itemsize
    body = len(payload) - ids_end
    if body != expected:
        raise DecodeError(
            "n_samples",
            f"header says {n_samples} samples x {channels} channel(s) = {expected} bytes, but {body} bytes follow",
        )
    samples = np.frombuffer(payload, dtype=dtype, offset=ids_end).reshape(n_samples, channels)
    if dtype.kind == "f" and not np.isfinite(samples).all():
        raise DecodeError("samples", "contains NaN or infinite values")
    return Frame(device, stream, seq, t0_us, rate, samples, scale, boot, encoded=bytes(payload))


def decode_json(payload: bytes) -> Frame | Reading:
    """Decode and validate a JSON reading or waveform."""
    body = load_json(payload)
    if not isinstance(body, dict):
        raise DecodeError("json", "top level must be an object")
    version = body.get("v")
    if isinstance(version, bool) or version not in DECODED_VERSIONS:
        raise DecodeError("version", f"unknown message version {version!r} (this node decodes "
                                     f"{', '.join(map(str, DECODED_VERSIONS))})"[:300])
    device = _ident("device", body.get("device"))
    stream = _ident("stream", body.get("stream"))
    spec = STREAMS.get(stream)
    if spec is None:
        raise DecodeError("stream", f"unknown stream {stream!r}; known: {', '.join(sorted(STREAMS))}")
    seq = _u32(body, "seq", required=True)
    boot = _u32(body, "boot", required=False) if version >= 2 else 0
    # range-checked in seconds before scaling: 1e308 * 1e6 is inf, and round(inf) an OverflowError
    t = _number("t", body.get("t"), "must be epoch seconds (a number)")
    if not MIN_T_US / 1e6 <= t <= MAX_T_US / 1e6:
        raise DecodeError("t", f"device timestamp {t!r} s is outside 2000..2100; is the device clock set?")
    t_us = round(t * 1e6)
    if spec.channels == 0:
        return Reading(device, stream, seq, t_us, _reading_values(body.get("values")), boot)
    rate = _number("rate", body.get("rate"), f"waveform stream {stream!r} needs a numeric 'rate'")
    _check_rate(rate, spec, field_name="rate")
    samples = _json_samples(body.get("samples"), spec)
    return Frame(device, stream, seq, t_us, rate, samples, 1.0, boot)


def _u32(body: dict[str, Any], name: str, *, required: bool) -> int:
    value = body.get(name, None if required else 0)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_BOOT:
        raise DecodeError(name, f"must be an integer 0..2^32-1, got {value!r}"[:200])
    return value


def _number(name: str, value: Any, expected: str) -> float:
    """``value`` as a finite float, or :class:`DecodeError` (an integer too large for a float too)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise DecodeError(name, f"{expected}, got {value!r}"[:200])
    try:
        number = float(value)
    except OverflowError:
        raise DecodeError(name, f"{expected}; {str(value)[:20]}... is beyond any float") from None
    if not math.isfinite(number):
        raise DecodeError(name, f"{expected}, got {value!r}")
    return number


def _reading_values(values: Any) -> dict[str, float]:
    if not isinstance(values, dict) or not values:
        raise DecodeError("values", "must be a non-empty object of name: number")
    if len(values) > MAX_READING_VALUES:
        raise DecodeError("values", f"at most {MAX_READING_VALUES} values, got {len(values)}")
    out: dict[str, float] = {}
    for name, value in values.items():
        check_identifier("values", name)
        out[name] = _number("values", value, f"{name!r} must be a finite number")
    return out


def _json_samples(samples: Any, spec: StreamSpec) -> np.ndarray:
    if not isinstance(samples, list) or not samples:
        raise DecodeError("samples", "must be a non-empty list")
    if len(samples) > MAX_SAMPLES:
        raise DecodeError("samples", f"at most {MAX_SAMPLES} samples, got {len(samples)}")
    try:
        arr = np.asarray(samples, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise DecodeError("samples", "must be numbers (or lists of numbers, one per channel)") from None
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[1] != spec.channels:
        raise DecodeError(
            "channels", f"stream {spec.name.value!r} has {spec.channels} channel(s), got shape {arr.shape}"
        )
    if not np.isfinite(arr).all():
        raise DecodeError("samples", "contains NaN or infinite values")
    if np.abs(arr).max() > np.finfo(np.float32).max:
        raise DecodeError("samples", "values exceed float32 range")
    return arr.astype(np.float32)


#: Validated (device, stream, spec) per raw id bytes: a node sees the same few thousand streams
#: over and over, and validating their names was a third of decoding a frame. Bounded.
_IDS: dict[bytes, tuple[str, str, StreamSpec]] = {}
_IDS_MAX = 100_000


def _frame_ids(raw: bytes, dev_len: int) -> tuple[str, str, StreamSpec]:
    known = _IDS.get(raw)
    if known is not None:
        return known
    device = _ident("device", raw[:dev_len])
    stream = _ident("stream", raw[dev_len:])
    known = (device, stream, _waveform_spec(stream))
    if len(_IDS) < _IDS_MAX:
        _IDS[raw] = known
    return known


def _ident(field_name: str, raw: Any) -> str:
    if isinstance(raw, (bytes, bytearray)):
        try:
            raw = raw.decode()
        except UnicodeDecodeError:
            raise DecodeError(field_name, "is not valid UTF-8") from None
    if not isinstance(raw, str):
        raise DecodeError(field_name, f"missing or not a string: {raw!r}")
    return check_identifier(field_name, raw)


def _waveform_spec(stream: str) -> StreamSpec:
    spec = STREAMS.get(stream)
    if spec is None:
        raise DecodeError("stream", f"unknown stream {stream!r}; known: {', '.join(sorted(STREAMS))}")
    if spec.channels == 0:
        raise DecodeError("stream", f"stream {stream!r} carries JSON readings, not binary frames")
    return spec


def _check_rate(rate: float, spec: StreamSpec, field_name: str = "sample_rate") -> None:
    if not math.isfinite(rate) or not spec.min_rate_hz <= rate <= spec.max_rate_hz:
        raise DecodeError(
            field_name,
            f"{rate} Hz is outside {spec.min_rate_hz:g}..{spec.max_rate_hz:g} Hz for stream {spec.name.value!r}",
        )


def _check_time(field_name: str, t_us: int) -> None:
    if not MIN_T_US <= t_us <= MAX_T_US:
        raise DecodeError(field_name, f"device timestamp {t_us} us is outside 2000..2100; is the device clock set?")


def _match_topic(device: str, stream: str, topic_device: str | None, topic_stream: str | None) -> None:
    if topic_device is not None and device != topic_device:
        raise DecodeError("device", f"payload says {device!r} but was published on the topic of {topic_device!r}")
    if topic_stream is not None and stream != topic_stream:
        raise DecodeError("stream", f"payload says {stream!r} but was published on the topic of {topic_stream!r}")
