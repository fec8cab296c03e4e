"""Topic names of wire contract v1, built and parsed in this one module.

Layout (``{site}``, ``{device}`` and ``{node}`` are identifiers; names starting with ``_`` are
reserved for the system so they can never collide with a device id or a stream)::

    iomt/v1/{site}/{device}/{stream}                 data frames (binary) or readings (JSON)
    iomt/v1/{site}/{device}/events/{model}           inferences, signal-quality events, alerts
    iomt/v1/{site}/{device}/truth/{kind}             simulator ground truth
    iomt/v1/{site}/{device}/_descriptor              retained device descriptor (placement, units, axes)
    iomt/v1/{site}/_edge/{node}/availability         retained "online"/"offline" (last will)
    iomt/v1/{site}/_models/{model}                   retained signed model manifests
    iomt/v1/{site}/_deadletter/{node}                rejected payloads with the reason
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from iomt.wire.errors import DecodeError

ROOT = "iomt"
VERSION = "v1"
PREFIX = f"{ROOT}/{VERSION}"

_IDENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")

EVENTS = "events"
TRUTH = "truth"
EDGE = "_edge"
MODELS = "_models"
DEADLETTER = "_deadletter"
AVAILABILITY = "availability"
#: Leaf of a device's retained descriptor (:mod:`iomt.wire.descriptor`). It sits where a stream name
#: does, so the device's grant ``{site}/{device}/+`` covers it and the edge's data subscription
#: delivers it in order with the device's frames; no stream can take the name (``_`` is reserved).
DESCRIPTOR = "_descriptor"


class TopicKind(StrEnum):
    """What a topic carries."""

    DATA = "data"
    EVENT = "event"
    TRUTH = "truth"
    AVAILABILITY = "availability"
    MODEL = "model"
    DEADLETTER = "deadletter"
    DESCRIPTOR = "descriptor"


@dataclass(frozen=True, slots=True)
class Topic:
    """A parsed topic. ``name`` is the stream, the model, the truth kind or the node id (for a
    descriptor, :data:`DESCRIPTOR`)."""

    kind: TopicKind
    site: str
    device: str | None
    name: str


def is_identifier(value: str) -> bool:
    """True when ``value`` may be used as a site, device, stream, node or model name."""
    return bool(_IDENT.match(value))


def check_identifier(field: str, value: str) -> str:
    """Return ``value`` or raise :class:`DecodeError` naming ``field``."""
    if not isinstance(value, str) or not _IDENT.match(value):
        raise DecodeError(
            field,
            f"{value!r} is not a valid identifier (letters, digits, '_', '.', '-'; "
            "1-64 characters; must not start with '_')",
        )
    return value


def data(site: str, device: str, stream: str) -> str:
    """Topic of a device's data stream."""
    return f"{PREFIX}/{_id('site', site)}/{_id('device', device)}/{_id('stream', stream)}"


def event(site: str, device: str, model: str) -> str:
    """Topic of the events a model raises for a device."""
    return f"{PREFIX}/{_id('site', site)}/{_id('device', device)}/{EVENTS}/{_id('model', model)}"


def truth(site: str, device: str, kind: str) -> str:
    """Topic of a simulator's ground truth for a device."""
    return f"{PREFIX}/{_id('site', site)}/{_id('device', device)}/{TRUTH}/{_id('kind', kind)}"


def descriptor(site: str, device: str) -> str:
    """Retained topic of a device's descriptor (:mod:`iomt.wire.descriptor`)."""
    return f"{PREFIX}/{_id('site', site)}/{_id('device', device)}/{DESCRIPTOR}"


def availability(site: str, node: str) -> str:
    """Retained availability topic of an edge node (its last will says "offline")."""
    return f"{PREFIX}/{_id('site', site)}/{EDGE}/{_id('node', node)}/{AVAILABILITY}"


def model_manifest(site: str, model: str) -> str:
    """Retained topic of the current manifest of a model."""
    return f"{PREFIX}/{_id('site', site)}/{MODELS}/{_id('model', model)}"


def deadletter(site: str, node: str) -> str:
    """Topic where ``node`` publishes the payloads it rejected."""
    return f"{PREFIX}/{_id('site', site)}/{DEADLETTER}/{_id('node', node)}"


def data_filter(site: str = "+") -> str:
    """Subscription filter for every data stream of a site (``+`` for all sites)."""
    return f"{PREFIX}/{site}/+/+"


def event_filter(site: str = "+") -> str:
    """Subscription filter for every event of a site."""
    return f"{PREFIX}/{site}/+/{EVENTS}/+"


def availability_filter(site: str = "+") -> str:
    """Subscription filter for every edge node's availability."""
    return f"{PREFIX}/{site}/{EDGE}/+/{AVAILABILITY}"


def deadletter_filter(site: str = "+") -> str:
    """Subscription filter for every dead-letter topic."""
    return f"{PREFIX}/{site}/{DEADLETTER}/+"


def parse_topic(topic: str) -> Topic:
    """Parse a v1 topic; raise :class:`DecodeError` (field ``topic``) for anything else."""
    parts = topic.split("/")
    if len(parts) < 5 or parts[0] != ROOT:
        raise DecodeError("topic", f"{topic!r} is not an {PREFIX}/... topic")
    if parts[1] != VERSION:
        raise DecodeError("topic", f"unsupported topic version {parts[1]!r} (this node speaks {VERSION})")
    site = parts[2]
    if not is_identifier(site):
        raise DecodeError("topic", f"invalid site {site!r} in {topic!r}")
    rest = parts[3:]
    if len(rest) == 2 and rest[1] == DESCRIPTOR and not rest[0].startswith("_"):
        return Topic(TopicKind.DESCRIPTOR, site, _topic_id(rest[0], topic), DESCRIPTOR)
    if len(rest) == 2 and not rest[0].startswith("_"):
        return Topic(TopicKind.DATA, site, _topic_id(rest[0], topic), _topic_id(rest[1], topic))
    if len(rest) == 3 and rest[1] in (EVENTS, TRUTH) and not rest[0].startswith("_"):
        kind = TopicKind.EVENT if rest[1] == EVENTS else TopicKind.TRUTH
        return Topic(kind, site, _topic_id(rest[0], topic), _topic_id(rest[2], topic))
    if len(rest) == 3 and rest[0] == EDGE and rest[2] == AVAILABILITY:
        return Topic(TopicKind.AVAILABILITY, site, None, _topic_id(rest[1], topic))
    if len(rest) == 2 and rest[0] == MODELS:
        return Topic(TopicKind.MODEL, site, None, _topic_id(rest[1], topic))
    if len(rest) == 2 and rest[0] == DEADLETTER:
        return Topic(TopicKind.DEADLETTER, site, None, _topic_id(rest[1], topic))
    raise DecodeError("topic", f"{topic!r} does not match any {PREFIX} topic layout")


def _topic_id(value: str, topic: str) -> str:
    if not is_identifier(value):
        raise DecodeError("topic", f"invalid name {value!r} in {topic!r}")
    return value


def _id(field: str, value: str) -> str:
    """Validate an identifier used to build a topic; building a bad topic is a programming error."""
    if not is_identifier(value):
        raise ValueError(f"invalid {field} {value!r} for a topic")
    return value
