"""``iomt bench fuzz``: every decoder that reads bytes from outside, fed hypothesis-generated input;
counts what each one raised, split into the documented error (allowed) and anything else (a bug).

The targets and their inputs are shared with ``tests/fuzz`` (which fails on the first undocumented
error and shrinks it); this command counts them all instead, so a before/after figure is one run:

* ``frames``: :func:`iomt.wire.frames.decode_payload` on valid frames with bytes overwritten or cut,
  and on random bytes. Allowed: :class:`DecodeError`.
* ``json``: the same decoder on JSON objects with the reading/waveform keys holding any JSON value
  (huge, tiny, non-finite numbers, wrong types). Allowed: :class:`DecodeError`.
* ``uplink``: :func:`iomt.wire.uplink.decode_batch` on batches of such records and on mutated bytes,
  then the gateway's :func:`gateway.ingest.batch_from_records` on what decoded. Allowed:
  :class:`DecodeError` from ``decode_batch`` only (a bad record becomes a dead letter).
* ``chunks``: :class:`iomt.wire.chunks.Reassembler` and :func:`decode_image`. Allowed: DecodeError.
* ``mqtt``: the edge's MQTT client reading a byte stream from the broker
  (:meth:`BulkMqttBus._dispatch`: packet split, PUBLISH parse, handler dispatch). Allowed:
  :class:`ProtocolError` (the client reconnects).
* ``deadletter``: the gateway's dead-letter listener (:meth:`BrokerListener.on_deadletter`) writing to
  a real SQLite store. Allowed: nothing (it counts and drops what it cannot store).
* ``edge``: the edge's processor (:meth:`EdgeProcessor.handle_batch`) on data topics with frames and
  JSON as above. Allowed: nothing (a bad message is a dead letter).

hypothesis is a ``[dev]`` dependency: it is imported when a target runs, not when the command is built.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from iomt.wire.errors import DecodeError

T0_US = 1_764_000_000_000_000


@dataclass(frozen=True)
class Target:
    """A decoder under fuzz: a strategy of inputs, how to feed one, the exception types it may raise."""

    name: str
    strategy: Callable[[], Any]
    #: opens the per-run state (a store, a client) and yields the function that feeds one input
    runner: Callable[[], Any]
    allowed: tuple[type[BaseException], ...]


# -- inputs --------------------------------------------------------------------------------------


def _valid_frames() -> list[bytes]:
    from iomt.wire.frames import encode_frame, make_frame

    rng = np.random.default_rng(0)
    return [
        encode_frame(make_frame("dev-1", "ecg", 7, T0_US, 250.0, rng.integers(-500, 500, 16).astype(np.int16), 0.001)),
        encode_frame(make_frame("dev-2", "acc", 3, T0_US, 50.0, rng.normal(0, 1, (8, 3)).astype(np.float32))),
        encode_frame(make_frame("dev-3", "eda", 1, T0_US, 4.0, rng.integers(0, 1 << 20, 4).astype(np.int32), 1e-6)),
    ]


def _mutated(valid: list[bytes]) -> Any:
    """A valid payload with up to six bytes overwritten (one drawn patch: position, value pairs),
    then maybe cut short and maybe extended: cheap to draw, and it reaches every header field."""
    from hypothesis import strategies as st

    def apply(args: tuple[bytes, bytes, int, bytes]) -> bytes:
        payload, patch, cut, tail = args
        buf = bytearray(payload)
        for i in range(0, len(patch) - 1, 2):
            buf[patch[i] * len(buf) // 256] = patch[i + 1]
        if cut < len(buf) and cut % 3 == 0:  # a third of them cut, at any length
            del buf[cut:]
        return bytes(buf) + tail

    return st.tuples(st.sampled_from(valid), st.binary(max_size=12), st.integers(0, 255),
                     st.binary(max_size=4)).map(apply)


def frame_inputs() -> Any:
    from hypothesis import strategies as st

    return st.one_of(_mutated(_valid_frames()), st.binary(max_size=96), st.binary(max_size=64).map(lambda b: b"IM" + b))


#: JSON values that break decoders: out-of-range and non-finite numbers, wrong types, odd strings.
ODD_JSON: list[Any] = [
    None, True, False, 0, -1, 1, 2**31, 2**32, 2**32 - 1, 2**63, 2**64, -(2**63) - 1, 10**400, -(10**400),
    1e308, -1e308, 1.7976931348623157e308, 5e-324, -0.0, 1e-300, 4e9, 4.1e15, float("inf"), float("-inf"),
    float("nan"), "", "x", "dev-1", "ecg", "\ud800", "a\x00b", "é", " ", "1", [], [1, 2], [[1, 2, 3]], [None],
    [1e308], [float("nan")], {}, {"hr": 1e308}, {"hr": "x"}, {"": 1}, {"a b": 1}, {"hr": 10**400},
]


def json_inputs() -> Any:
    """A valid reading or waveform with some keys replaced by odd values or removed, and junk."""
    from hypothesis import strategies as st

    reading = {"v": 1, "device": "dev-1", "stream": "vitals", "seq": 5, "t": 1.764e9, "values": {"hr": 71.0}}
    waveform = {"v": 1, "device": "dev-1", "stream": "eda", "seq": 5, "t": 1.764e9, "rate": 4.0,
                "samples": [0.1, 0.2, 0.3]}
    keys = sorted({*reading, *waveform, "boot"})
    odd = st.one_of(st.sampled_from(ODD_JSON), st.floats(), st.integers(), st.text(max_size=6))

    def build(args: tuple[dict[str, Any], list[tuple[str, Any]], list[str]]) -> bytes:
        base, replaced, removed = args
        body = dict(base)
        body.update(replaced)
        for key in removed:
            body.pop(key, None)
        return json.dumps(body).encode()

    structured = st.tuples(st.sampled_from([reading, waveform]),
                           st.lists(st.tuples(st.sampled_from(keys), odd), max_size=3),
                           st.lists(st.sampled_from(keys), max_size=1)).map(build)
    return st.one_of(structured, structured, st.binary(max_size=40).map(lambda b: b"{" + b),
                     st.sampled_from(NASTY_JSON))


#: JSON that breaks ``json.loads`` itself in ways other than a syntax error.
NASTY_JSON = [
    b"[" * 100_000,  # RecursionError
    b'{"v": 1, "seq": ' + b"1" * 5000 + b"}",  # ValueError: more than 4,300 digits
    b'{"v": 1, "device": "\\ud800", "stream": "vitals"}',
]


def event_inputs() -> Any:
    """A valid event with fields replaced by odd values, as :func:`json_inputs` does for readings."""
    from hypothesis import strategies as st

    from iomt.wire.events import Event, EventKind, Priority, encode_event

    event = Event("dev-1", "ecg", "1.0.0", EventKind.ALERT, "af", 0.9, T0_US, T0_US + 10**7, T0_US + 10**7,
                  priority=Priority.HIGH, detail={"hr": 120}, event_id="e" * 32)
    base = json.loads(encode_event(event))
    odd = st.one_of(st.sampled_from(ODD_JSON), st.floats(), st.integers(), st.text(max_size=6))

    def build(replaced: list[tuple[str, Any]]) -> bytes:
        return json.dumps({**base, **dict(replaced)}).encode()

    return st.lists(st.tuples(st.sampled_from(sorted(base)), odd), max_size=3).map(build)


def uplink_inputs() -> Any:
    from hypothesis import strategies as st

    from iomt.wire.uplink import RecordKind, UplinkRecord, encode_batch

    payload = st.one_of(frame_inputs(), json_inputs(), event_inputs(), st.binary(max_size=32))
    record = st.builds(UplinkRecord, st.sampled_from(list(RecordKind)), payload)
    structured = st.lists(record, max_size=4).map(encode_batch)

    @st.composite
    def mutated(draw: Any) -> bytes:
        buf = bytearray(draw(structured))
        for _ in range(draw(st.integers(0, 3))):
            if buf:
                buf[draw(st.integers(0, len(buf) - 1))] = draw(st.integers(0, 255))
        return bytes(buf)

    return st.one_of(structured, mutated(), st.binary(max_size=64))


def chunk_inputs() -> Any:
    from hypothesis import strategies as st

    from iomt.wire.chunks import Image, encode_image, split

    image = encode_image(Image(5, T0_US, np.arange(64, dtype=np.uint8).reshape(8, 8)))
    valid = split(image, 5, chunk_size=40) + split(b"not an image at all", 6, chunk_size=8)
    one = st.one_of(st.sampled_from(valid), _mutated(valid), st.binary(max_size=48))
    return st.lists(one, min_size=1, max_size=4)


def mqtt_inputs() -> Any:
    from hypothesis import strategies as st

    from iomt.transport import mqtt_codec as codec

    valid = [
        codec.publish("iomt/v1/ward/dev-1/ecg", b"payload", 1, False, 7),
        codec.publish("iomt/v1/ward/dev-1/ecg", b"", 0),
        codec.puback(3), b"\xd0\x00", b"\x90\x03\x00\x01\x00", b"\x90\x03\x00\x01\x80",
    ]
    bad_topic = st.binary(min_size=1, max_size=12).map(
        lambda t: bytes((0x32,)) + codec.remaining_length(len(t) + 4) + len(t).to_bytes(2, "big") + t + b"\x00\x01")
    return st.lists(st.one_of(st.sampled_from(valid), _mutated(valid), bad_topic, st.binary(max_size=24)),
                    min_size=1, max_size=5).map(b"".join)


def deadletter_inputs() -> Any:
    from hypothesis import strategies as st

    from iomt.wire.deadletter import DeadLetter, encode_deadletter, make_deadletter

    text = st.one_of(st.text(max_size=16), st.sampled_from(["\ud800", "a\x00b", "é"]))
    integer = st.one_of(st.integers(0, 2**40), st.integers(), st.sampled_from([2**63, 2**64, -(2**63) - 1, 10**30]))
    letter = st.builds(DeadLetter, text, text, text, text, integer, integer, st.one_of(
        st.binary(max_size=12).map(lambda b: make_deadletter("t", "f", "r", "n", 0, b).payload_head_b64), text))

    return st.one_of(letter.map(encode_deadletter), json_inputs(), st.binary(max_size=32))


def edge_inputs() -> Any:
    from hypothesis import strategies as st

    topic = st.one_of(st.sampled_from(["iomt/v1/ward/dev-1/ecg", "iomt/v1/ward/dev-2/acc", "iomt/v1/ward/dev-3/eda",
                                       "iomt/v1/ward/dev-1/vitals", "iomt/v1/ward/dev-1/image"]),
                      st.text(max_size=30))
    return st.lists(st.tuples(topic, st.one_of(frame_inputs(), json_inputs())), min_size=1, max_size=4)


# -- runners (each opens its state once per run and yields the function feeding one input) ------


@contextmanager
def _plain(feed: Callable[[Any], object]) -> Iterator[Callable[[Any], object]]:
    yield feed


def _run_frames() -> Any:
    from iomt.wire.frames import decode_payload

    return _plain(lambda payload: decode_payload(payload))


@contextmanager
def _run_uplink() -> Iterator[Callable[[bytes], None]]:
    """The gateway's uplink path after the HTTP layer: split, decode each record, write the batch
    to a real SQLite store (a record no store can hold must be a dead letter, not a failed batch)."""
    from gateway.ingest import batch_from_records
    from gateway.store.sqlite import SqliteStore
    from iomt.wire.uplink import decode_batch

    with tempfile.TemporaryDirectory(prefix="iomt-fuzz-") as tmp:
        store = SqliteStore(Path(tmp) / "store.sqlite", synchronous="OFF")

        def feed(body: bytes) -> None:
            records = decode_batch(body)
            try:
                store.write(batch_from_records(records, "edge-fuzz"))
            except DecodeError as exc:
                raise AssertionError(f"{exc!r} escaped: a bad record must be a dead letter") from exc

        try:
            yield feed
        finally:
            store.close()


def _run_chunks() -> Any:
    from iomt.wire.chunks import Reassembler, decode_image

    def feed(payloads: list[bytes]) -> None:
        reassembler = Reassembler(max_partial=2)
        for payload in payloads:
            obj = reassembler.add("dev-1/image", payload)
            if obj is not None:
                decode_image(obj)

    return _plain(feed)


@contextmanager
def _run_mqtt() -> Iterator[Callable[[bytes], None]]:
    from iomt.config import MqttConfig
    from iomt.transport.bulk_mqtt import BulkMqttBus

    bus = BulkMqttBus(MqttConfig(url="mqtt://127.0.0.1:1"), "fuzz")
    bus.subscribe("#", lambda message: None)
    try:
        yield lambda data: _drain(bus, bytearray(data))
    finally:
        bus.stop()


def _drain(bus: Any, buf: bytearray) -> None:
    bus._dispatch(buf)


@contextmanager
def _run_deadletter() -> Iterator[Callable[[bytes], None]]:
    from gateway.listener import BrokerListener
    from gateway.store.sqlite import SqliteStore
    from iomt.transport import ReceivedMessage

    with tempfile.TemporaryDirectory(prefix="iomt-fuzz-") as tmp:
        store = SqliteStore(Path(tmp) / "store.sqlite", synchronous="OFF")
        listener = BrokerListener(bus=None, store=store)  # type: ignore[arg-type]  # only on_deadletter is fed
        try:
            yield lambda payload: listener.on_deadletter(
                ReceivedMessage("iomt/v1/ward/_deadletter/edge-1", payload, 1, False, 1))
        finally:
            store.close()


@contextmanager
def _run_edge() -> Iterator[Callable[[list[tuple[str, bytes]]], None]]:
    from edge.config import EdgeConfig
    from edge.processor import EdgeProcessor

    with tempfile.TemporaryDirectory(prefix="iomt-fuzz-") as tmp:
        processor = EdgeProcessor(EdgeConfig(outbox_path=Path(tmp) / "outbox.sqlite"))
        yield lambda messages: _feed_edge(processor, messages)


def _feed_edge(processor: Any, messages: list[tuple[str, bytes]]) -> None:
    processor.handle_batch([(topic, payload, time.monotonic_ns()) for topic, payload in messages])


def targets() -> dict[str, Target]:
    from iomt.transport.mqtt_codec import ProtocolError

    return {
        "frames": Target("frames", frame_inputs, _run_frames, (DecodeError,)),
        "json": Target("json", json_inputs, _run_frames, (DecodeError,)),
        "uplink": Target("uplink", uplink_inputs, _run_uplink, (DecodeError,)),
        "chunks": Target("chunks", chunk_inputs, _run_chunks, (DecodeError,)),
        "mqtt": Target("mqtt", mqtt_inputs, _run_mqtt, (ProtocolError,)),
        "deadletter": Target("deadletter", deadletter_inputs, _run_deadletter, ()),
        "edge": Target("edge", edge_inputs, _run_edge, ()),
    }


class _LoggedFaults(logging.Handler):
    """Counts records logged with an exception as ``logged:<module>.<type>``."""

    def __init__(self, raised: Counter[str], examples: dict[str, str]) -> None:
        super().__init__(logging.ERROR)
        self.raised = raised
        self.examples = examples

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            name = f"logged:{type(exc).__module__}.{type(exc).__name__}"
            self.raised[name] += 1
            self.examples.setdefault(name, f"{exc!r}"[:200] + f" ({record.name}: {record.getMessage()})"[:200])


def count_errors(target: Target, examples: int, seed: int = 0) -> dict[str, Any]:
    """Feed ``examples`` inputs; count them and every exception type raised (allowed or not)."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as fix_seed

    raised: Counter[str] = Counter()
    undocumented: dict[str, str] = {}
    fed = [0]
    started = time.perf_counter()
    # A fault that a target catches and logs (with its traceback) counts as much as one it raises;
    # everything else it logs (a rejected input, by design) is dropped here: ten thousand lines of noise.
    collector = _LoggedFaults(raised, undocumented)
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    root.handlers[:] = [collector]
    root.setLevel(logging.WARNING)
    try:
        with target.runner() as feed:

            @fix_seed(seed)
            @settings(max_examples=examples, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck), phases=(Phase.generate,))
            @given(target.strategy())
            def run(data: Any) -> None:
                fed[0] += 1
                try:
                    feed(data)
                except target.allowed as exc:
                    raised[type(exc).__name__] += 1
                except Exception as exc:
                    name = f"{type(exc).__module__}.{type(exc).__name__}"
                    raised[name] += 1
                    undocumented.setdefault(name, f"{exc!r}"[:200] + f" on {data!r}"[:300])

            run()
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    allowed = {t.__name__ for t in target.allowed}
    return {
        "examples": fed[0],
        "seconds": round(time.perf_counter() - started, 2),
        "allowed": sorted(allowed),
        "raised": dict(sorted(raised.items())),
        "undocumented": sum(n for name, n in raised.items() if name not in allowed),
        "first_undocumented": undocumented,
    }


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "fuzz", help="fuzz every decoder of outside input; count documented and undocumented errors")
    p.add_argument("--examples", type=int, default=10_000, help="inputs per decoder")
    p.add_argument("--target", action="append", help="only these decoders (repeatable); default all")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, help="write the results here")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    chosen = targets()
    names = args.target or list(chosen)
    unknown = sorted(set(names) - set(chosen))
    if unknown:
        raise SystemExit(f"unknown fuzz target(s) {', '.join(unknown)}; known: {', '.join(chosen)}")
    results = {}
    for name in names:
        result = results[name] = count_errors(chosen[name], args.examples, args.seed)
        sys.stdout.write(f"{name:>10}: {result['examples']:>6} inputs in {result['seconds']:>6.1f} s; "
                         f"undocumented {result['undocumented']:>5}; raised {result['raised']}\n")
        for error, example in result["first_undocumented"].items():
            sys.stdout.write(f"{'':>12}{error}: {example}\n")
        sys.stdout.flush()
    if args.json:
        args.json.write_text(json.dumps({"examples_per_target": args.examples, "seed": args.seed,
                                         "targets": results}, indent=2))
    return 1 if any(r["undocumented"] for r in results.values()) else 0

