"""The device descriptor (``iomt.wire.descriptor``): a valid one round-trips, and every invalid field is
a :class:`DecodeError` naming it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iomt.wire.descriptor import (
    AccUnit,
    Axes,
    DeviceDescriptor,
    GyroUnit,
    MotionSensor,
    Placement,
    decode_descriptor,
    encode_descriptor,
)
from iomt.wire.errors import DecodeError

VALID: dict[str, Any] = {"v": 1, "motion": {"placement": "waist", "acc_unit": "g", "gyro_unit": "deg/s",
                                            "axes": "sensor"}}


def body(**motion: Any) -> bytes:
    m = {**VALID["motion"], **motion}
    return json.dumps({"v": 1, "motion": {k: v for k, v in m.items() if v is not ...}}).encode()


@pytest.mark.parametrize("placement", list(Placement))
def test_every_placement_round_trips(placement: Placement) -> None:
    d = DeviceDescriptor(MotionSensor(placement, AccUnit.G, GyroUnit.DEG_S, Axes.SENSOR))
    assert decode_descriptor(encode_descriptor(d)) == d and d.placement is placement


def test_a_device_without_gyroscope_says_null_and_one_without_motion_leaves_it_out() -> None:
    d = decode_descriptor(body(gyro_unit=None))
    assert d.motion is not None and d.motion.gyro_unit is None
    assert decode_descriptor(encode_descriptor(d)) == d
    bare = decode_descriptor(b'{"v": 1}')
    assert bare.motion is None and bare.placement is Placement.UNKNOWN


def test_the_same_descriptor_is_the_same_bytes() -> None:
    assert encode_descriptor(decode_descriptor(body())) == encode_descriptor(decode_descriptor(
        json.dumps({"motion": VALID["motion"], "v": 1}).encode()))


@pytest.mark.parametrize(
    ("payload", "field", "says"),
    [
        (body(placement="elbow"), "motion.placement", "waist, lower_back"),
        (body(placement=3), "motion.placement", "not one of"),
        (body(placement=...), "motion.placement", "missing"),
        (body(acc_unit="m/s2"), "motion.acc_unit", "convert at the device"),
        (body(acc_unit=...), "motion.acc_unit", "missing"),
        (body(gyro_unit="rad/s"), "motion.gyro_unit", "deg/s"),
        (body(gyro_unit=...), "motion.gyro_unit", "missing"),
        (body(axes="enu"), "motion.axes", "sensor"),
        (body(axes=...), "motion.axes", "missing"),
        (body(mount="x_up"), "motion.mount", "unknown descriptor field"),
        (b'{"v": 1, "motion": "waist"}', "motion", "object"),
        (b'{"v": 2, "motion": null}', "v", "unsupported descriptor version 2"),
        (b'{"v": true}', "v", "unsupported"),
        (b'{"motion": null}', "v", "missing"),
        (b'{"v": 1, "placement": "waist"}', "placement", "unknown descriptor field"),
        (b'[1]', "json", "object"),
        (b'{"v": 1', "json", "invalid descriptor JSON"),
        (b'\xff\xfe', "json", "invalid descriptor JSON"),
        (b'{"v": 1, "motion": {"placement": "waist"' + b' ' * 5000 + b'}}', "json", "at most"),
    ],
)
def test_each_invalid_field_is_named(payload: bytes, field: str, says: str) -> None:
    with pytest.raises(DecodeError) as info:
        decode_descriptor(payload)
    assert info.value.field == field and says in info.value.reason


def test_an_unknown_fields_name_is_storable_text() -> None:
    with pytest.raises(DecodeError) as info:
        decode_descriptor(b'{"v": 1, "\\ud800x": 1}')
    assert info.value.field == "\\ud800x"
    info.value.field.encode()  # a dead letter naming it can be stored


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(
    st.binary(max_size=200),
    st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
                 lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
                     st.sampled_from(["v", "motion", "placement", "acc_unit", "gyro_unit", "axes", "x"]), inner,
                     max_size=5), max_leaves=12).map(lambda v: json.dumps(v).encode()),
))
def test_only_decode_errors_come_out_whatever_the_bytes(payload: bytes) -> None:
    try:
        decode_descriptor(payload)
    except DecodeError as exc:
        exc.field.encode()
