"""Values no store can hold are DecodeErrors naming their field, in events and dead letters too
(issue 12, point 6: found by fuzzing the uplink and the dead-letter listener)."""

from __future__ import annotations

import json

import pytest

from iomt.wire.deadletter import decode_deadletter, encode_deadletter, make_deadletter
from iomt.wire.errors import DecodeError
from iomt.wire.events import Event, EventKind, decode_event, encode_event

T0 = 1_764_000_000_000_000
EVENT = json.loads(encode_event(Event("p1", "ecg", "1.0.0", EventKind.ALERT, "af", 0.9, T0, T0 + 1, T0 + 1,
                                      event_id="e1")))
LETTER = json.loads(encode_deadletter(make_deadletter("t", "f", "r", "n", T0, b"abc")))


@pytest.mark.parametrize(("change", "field"), [
    ({"score": 10**400}, "score"), ({"value": 10**400}, "value"), ({"value": float("inf")}, "value"),
    ({"t_us": 2**63}, "t_us"), ({"window_start_us": -(2**63) - 1}, "window_start_us"),
    ({"label": "\ud800"}, "label"), ({"detail": {"k": "\ud800"}}, "detail"), ({"detail": {"k": 2**64}}, "detail"),
])
def test_an_event_no_store_can_hold_is_refused_naming_the_field(change: dict[str, object], field: str) -> None:
    with pytest.raises(DecodeError) as info:
        decode_event(json.dumps({**EVENT, **change}).encode())
    assert info.value.field == field


@pytest.mark.parametrize(("change", "field"), [
    ({"t_us": 2**64}, "t_us"), ({"payload_len": -1}, "payload_len"), ({"topic": "\ud800"}, "topic"),
    ({"payload_head_b64": "é"}, "payload_head_b64"),
])
def test_a_dead_letter_no_store_can_hold_is_refused_naming_the_field(change: dict[str, object], field: str) -> None:
    with pytest.raises(DecodeError) as info:
        decode_deadletter(json.dumps({**LETTER, **change}).encode())
    assert info.value.field == field


@pytest.mark.parametrize("payload", [b"[" * 100_000, b'{"a": ' + b"1" * 5000 + b"}"])
def test_json_that_breaks_the_parser_is_a_decode_error_everywhere(payload: bytes) -> None:
    for decode in (decode_event, decode_deadletter):
        with pytest.raises(DecodeError) as info:
            decode(payload)
        assert info.value.field == "json"
