from __future__ import annotations

import json

import pytest

from iomt.wire.errors import DecodeError
from iomt.wire.events import Event, decode_event, encode_event
from iomt.wire.uplink import RecordKind, UplinkRecord, decode_batch, encode_batch


def alert() -> Event:
    return Event(device="p1", model="fall", model_version="1.2.0", kind="alert", label="fall", score=0.97,
                 window_start_us=1, window_end_us=2, t_us=3, priority="high", state="raised")


def test_event_round_trip() -> None:
    event = alert()
    assert decode_event(encode_event(event)) == event


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "gossip"}, "kind"),
        ({"priority": "urgent"}, "priority"),
        ({"state": "forgotten"}, "state"),
        ({"score": "high"}, "score"),
        ({"window_end_us": 0}, "window_end_us"),
        ({"surprise": 1}, "surprise"),
        ({"device": "_x"}, "device"),
    ],
)
def test_bad_events_name_the_field(change: dict[str, object], field: str) -> None:
    body = json.loads(encode_event(alert()))
    body.update(change)
    with pytest.raises(DecodeError) as info:
        decode_event(json.dumps(body).encode())
    assert info.value.field == field


def test_uplink_batch_round_trip() -> None:
    records = [UplinkRecord(RecordKind.FRAME, b"\x01\x02"), UplinkRecord(RecordKind.EVENT, b"{}"),
               UplinkRecord(RecordKind.READING, b"")]
    assert decode_batch(encode_batch(records)) == records


@pytest.mark.parametrize("cut", [1, 5, 9, 12])
def test_truncated_uplink_batches_are_rejected(cut: int) -> None:
    body = encode_batch([UplinkRecord(RecordKind.FRAME, b"abcdef")])
    with pytest.raises(DecodeError):
        decode_batch(body[:-cut])


def test_uplink_batch_with_stray_bytes_is_rejected() -> None:
    with pytest.raises(DecodeError, match="stray"):
        decode_batch(encode_batch([]) + b"x")
