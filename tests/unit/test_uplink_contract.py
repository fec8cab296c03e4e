"""iomt.wire.uplink's HTTP contract: the acknowledgement codec, and the one path, header and media types
that the edge client, the gateway server and the gateway's OpenAPI document all use."""

from __future__ import annotations

import json

import pytest

from iomt.wire.errors import DecodeError
from iomt.wire.uplink import (
    ACK_CONTENT_TYPE,
    ACK_FIELDS,
    CONTENT_TYPE,
    NODE_HEADER,
    UPLINK_PATH,
    UplinkAck,
    decode_ack,
    encode_ack,
)


def test_ack_round_trips_with_exactly_its_three_keys() -> None:
    ack = UplinkAck(stored=12, duplicates=3, rejected=1)
    body = encode_ack(ack)
    assert json.loads(body) == {"stored": 12, "duplicates": 3, "rejected": 1}
    assert ACK_FIELDS == ("stored", "duplicates", "rejected")
    assert decode_ack(body) == ack
    assert decode_ack(b' { "rejected": 0, "stored": 0, "duplicates": 0 } ') == UplinkAck(0, 0, 0)


def test_ack_is_frozen() -> None:
    ack = UplinkAck(1, 0, 0)
    with pytest.raises(AttributeError):
        ack.stored = 2  # type: ignore[misc]


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        (b"", "json", "not JSON"),
        (b"{not json", "json", "not JSON"),
        (b"\xff\xfe", "json", "not JSON"),
        (b"[1, 2, 3]", "json", "must be an object"),
        (b'"stored"', "json", "must be an object"),
        (b'{"stored": 1, "duplicates": 0}', "rejected", "missing"),
        (b'{"duplicates": 0, "rejected": 0}', "stored", "missing"),
        (b'{"stored": "1", "duplicates": 0, "rejected": 0}', "stored", "integer"),
        (b'{"stored": 1.5, "duplicates": 0, "rejected": 0}', "stored", "integer"),
        (b'{"stored": 1, "duplicates": true, "rejected": 0}', "duplicates", "integer"),
        (b'{"stored": 1, "duplicates": null, "rejected": 0}', "duplicates", "integer"),
        (b'{"stored": 1, "duplicates": 0, "rejected": -1}', "rejected", "negative"),
        (b'{"stored": 1, "duplicates": 0, "rejected": 0, "error": "x"}', "error", "unknown"),
    ],
)
def test_bad_ack_bodies_are_refused_naming_the_key(body: bytes, field: str, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason) as info:
        decode_ack(body)
    assert info.value.field == field


@pytest.mark.parametrize(("values", "field"), [((-1, 0, 0), "stored"), ((0, True, 0), "duplicates"),
                                                ((0, 0, 2.0), "rejected")])
def test_an_ack_with_a_bad_count_cannot_be_built(values: tuple[object, object, object], field: str) -> None:
    with pytest.raises(DecodeError) as info:
        UplinkAck(*values)  # type: ignore[arg-type]
    assert info.value.field == field


def test_the_gateway_openapi_document_states_the_same_contract() -> None:
    from gateway.api.openapi import openapi_document

    post = openapi_document()["paths"][UPLINK_PATH]["post"]
    assert [p["name"] for p in post["parameters"] if p["in"] == "header"] == [NODE_HEADER]
    assert list(post["requestBody"]["content"]) == [CONTENT_TYPE]
    ok = post["responses"]["200"]["content"]
    assert list(ok) == [ACK_CONTENT_TYPE]
    assert tuple(ok[ACK_CONTENT_TYPE]["schema"]["properties"]) == ACK_FIELDS
