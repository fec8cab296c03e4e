"""Device descriptor (version 1): what a device says about its sensors, once, on a retained topic.

A device publishes one small JSON object, **retained**, on ``topics.descriptor(site, device)``
(``iomt/v1/{site}/{device}/_descriptor``) before its first frame, and again whenever it changes::

    {"v": 1, "motion": {"placement": "waist", "acc_unit": "g", "gyro_unit": "deg/s", "axes": "sensor"}}

==============  ========================================================================================
field           meaning
==============  ========================================================================================
``v``           descriptor format version (1)
``motion``      the motion sensor (optional: a device without one leaves it out)
``.placement``  where it is worn, one of :class:`Placement` (``unknown`` when the device cannot say)
``.acc_unit``   ``g``: the only unit the wire carries acceleration in (convert at the device, or with
                ``iomt replay --acc-unit``); stating it makes a device in m/s² fail loudly, not silently
``.gyro_unit``  ``deg/s``, or ``null`` for a device without a gyroscope
``.axes``       ``sensor``: x, y, z are the sensor's own orthogonal axes, the gyroscope in the same frame
                as the accelerometer, and the acceleration includes gravity. How the sensor is turned on
                the body is *not* stated: the fall input is invariant to it
                (:mod:`models.preprocessing.motion`), so no mount convention is needed
==============  ========================================================================================

Every field is validated and every field of ``motion`` must be stated (units are never assumed); an
unknown field, a missing one or a value outside its closed set is a
:class:`DecodeError` naming it (``motion.placement`` ...), so the edge dead-letters a bad descriptor
and keeps the last valid one; the device's frames are analysed all the same. An empty retained payload
withdraws the descriptor (the placement is unknown again).

Why a retained descriptor and not a field in every payload: binary frames have no room for it and
must stay compact; the placement does not change from frame to frame; a retained message reaches every
edge that subscribes later (a restarted node, a second node taking over) before any frame, and, on the
edge's one data subscription, in order with the device's own frames (MQTT keeps one publisher's
order), so the first frame after a change is already judged with it. A third-party device that sends
JSON readings publishes the same JSON descriptor; the topic lies under the device's own topics, which
its broker grant already covers (``{site}/{device}/+``), and no other device may write it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from iomt.wire.errors import DecodeError
from iomt.wire.fields import load_json

DESCRIPTOR_VERSION = 1
#: Model name of the event by which an edge forwards a descriptor it took to the gateway (an inference
#: event whose label is the placement and whose ``detail`` holds the fields; ``detail.declared`` false
#: when the device withdrew it). Not a model: the gateway shows the newest one per device.
EVENT_MODEL = "descriptor"
#: A descriptor is a few dozen bytes; anything much larger is not one.
MAX_DESCRIPTOR_BYTES = 4096


class Placement(StrEnum):
    """Where a motion sensor is worn (closed set; ``unknown`` when the device cannot say)."""

    WAIST = "waist"  # belt, hip
    LOWER_BACK = "lower_back"  # lumbar / sacrum (clinical gait sensors)
    CHEST = "chest"  # sternum strap, patch
    WRIST = "wrist"  # watch, band
    UPPER_ARM = "upper_arm"
    THIGH = "thigh"
    ANKLE = "ankle"
    FOOT = "foot"  # shoe, insole
    HEAD = "head"  # ear, glasses, headband
    POCKET = "pocket"  # a phone carried in a trouser or jacket pocket
    UNKNOWN = "unknown"


class AccUnit(StrEnum):
    """Acceleration units a descriptor may state (the wire carries g only)."""

    G = "g"


class GyroUnit(StrEnum):
    """Angular-rate units a descriptor may state (the wire carries deg/s only)."""

    DEG_S = "deg/s"


class Axes(StrEnum):
    """Axis conventions a descriptor may state."""

    #: the sensor's own orthogonal axes, gyroscope in the accelerometer's frame, gravity included
    SENSOR = "sensor"


@dataclass(frozen=True, slots=True)
class MotionSensor:
    """A device's motion sensor as it declares it."""

    placement: Placement
    acc_unit: AccUnit = AccUnit.G
    gyro_unit: GyroUnit | None = GyroUnit.DEG_S
    axes: Axes = Axes.SENSOR


@dataclass(frozen=True, slots=True)
class DeviceDescriptor:
    """A decoded descriptor (version :data:`DESCRIPTOR_VERSION`)."""

    motion: MotionSensor | None = None
    version: int = DESCRIPTOR_VERSION

    @property
    def placement(self) -> Placement:
        """The motion sensor's placement (``unknown`` without one)."""
        return self.motion.placement if self.motion is not None else Placement.UNKNOWN


_E = TypeVar("_E", bound=StrEnum)
_TOP = ("v", "motion")
_MOTION = ("placement", "acc_unit", "gyro_unit", "axes")


def encode_descriptor(descriptor: DeviceDescriptor) -> bytes:
    """Compact JSON of ``descriptor`` (its keys sorted: the same descriptor is always the same bytes)."""
    body: dict[str, Any] = {"v": descriptor.version}
    m = descriptor.motion
    if m is not None:
        body["motion"] = {"placement": m.placement.value, "acc_unit": m.acc_unit.value,
                          "gyro_unit": None if m.gyro_unit is None else m.gyro_unit.value, "axes": m.axes.value}
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


def decode_descriptor(payload: bytes) -> DeviceDescriptor:
    """Decode and validate a descriptor; :class:`DecodeError` names the bad field (``v``, ``motion``,
    ``motion.placement`` ...). An empty payload (a withdrawn retained descriptor) is not a descriptor:
    callers check for it first."""
    if len(payload) > MAX_DESCRIPTOR_BYTES:
        raise DecodeError("json", f"{len(payload)} bytes; a descriptor is at most {MAX_DESCRIPTOR_BYTES}")
    body = load_json(payload, "invalid descriptor JSON")
    if not isinstance(body, dict):
        raise DecodeError("json", "a descriptor must be a JSON object")
    _no_unknown(body, _TOP, "")
    if "v" not in body:
        raise DecodeError("v", "missing (the descriptor's format version, 1)")
    version = body["v"]
    if not isinstance(version, int) or isinstance(version, bool) or version != DESCRIPTOR_VERSION:
        raise DecodeError("v", f"unsupported descriptor version {str(version)[:20]} (this node reads "
                               f"{DESCRIPTOR_VERSION})")
    motion = body.get("motion")
    if motion is None:
        return DeviceDescriptor(None, version)
    if not isinstance(motion, dict):
        raise DecodeError("motion", "must be an object")
    _no_unknown(motion, _MOTION, "motion.")
    placement = _choice(motion, "placement", Placement)
    acc = _choice(motion, "acc_unit", AccUnit, hint=" (convert at the device: the wire carries g)")
    gyro = None if motion.get("gyro_unit", "") is None else _choice(
        motion, "gyro_unit", GyroUnit, hint=" or null without a gyroscope (the wire carries deg/s)")
    axes = _choice(motion, "axes", Axes)
    return DeviceDescriptor(MotionSensor(placement, acc, gyro, axes), version)


def _no_unknown(body: dict[str, Any], known: tuple[str, ...], prefix: str) -> None:
    unknown = sorted(str(k) for k in body if k not in known)
    if unknown:  # the name is outside input: kept short and storable text (a lone surrogate escaped)
        name = unknown[0][:60].encode("utf-8", "backslashreplace").decode()
        raise DecodeError(f"{prefix}{name}", f"unknown descriptor field (known: {', '.join(known)})")


def _values(choices: type[StrEnum]) -> str:
    return ", ".join(c.value for c in choices)


def _choice(body: dict[str, Any], name: str, choices: type[_E], hint: str = "") -> _E:
    """``body[name]`` as one of ``choices``: every field of ``motion`` is stated, never assumed."""
    field = f"motion.{name}"
    if name not in body:
        raise DecodeError(field, f"missing; one of {_values(choices)}{hint}")
    value = body[name]
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        return choices(value)
    except ValueError:
        raise DecodeError(field, f"{str(value)[:40]!r} is not one of {_values(choices)}{hint}") from None
