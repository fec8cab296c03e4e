"""Which topics each kind of principal may use: the one policy both brokers enforce.

The mosquitto driver turns these rules into a dynamic-security role per principal; the embedded
broker's plugin checks them directly. Everything not granted is refused (both brokers deny publish
and subscribe by default), so a device can publish only its own data, its own retained descriptor
(``{device}/_descriptor``: its motion sensor's placement and units, covered by the same ``{device}/+``
grant as its streams) and simulator ground truth, and subscribe to nothing; an edge publishes events,
its own availability and dead letters for its site only and reads that site's data (and descriptors);
the gateway reads events, availability, dead letters and model manifests (of its site, or all with
``+``) and publishes model manifests.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from gateway.registry.records import Kind, Principal
from iomt.transport.mqtt_codec import topic_matches
from iomt.wire import topics


class Access(StrEnum):
    PUBLISH = "publish"
    SUBSCRIBE = "subscribe"


@dataclass(frozen=True, slots=True)
class Rule:
    """``access`` is allowed on ``pattern`` (an MQTT filter; for subscriptions, on every filter
    it covers)."""

    access: Access
    pattern: str


def _base(site: str) -> str:
    return f"{topics.PREFIX}/{site}"


def rules_for(principal: Principal) -> tuple[Rule, ...]:
    """The grants of ``principal`` (none when revoked)."""
    if not principal.active:
        return ()
    site, name = principal.site, principal.name
    base = _base(site)
    if principal.kind is Kind.DEVICE:
        return (
            Rule(Access.PUBLISH, f"{base}/{name}/+"),
            Rule(Access.PUBLISH, f"{base}/{name}/{topics.TRUTH}/+"),
        )
    if principal.kind is Kind.EDGE:
        return (
            Rule(Access.PUBLISH, f"{base}/+/{topics.EVENTS}/+"),
            Rule(Access.PUBLISH, f"{base}/{topics.EDGE}/{name}/{topics.AVAILABILITY}"),
            Rule(Access.PUBLISH, f"{base}/{topics.DEADLETTER}/{name}"),
            Rule(Access.SUBSCRIBE, f"{base}/+/+"),  # data streams, device descriptors (and model manifests)
            Rule(Access.SUBSCRIBE, f"{base}/{topics.MODELS}/+"),
        )
    if principal.kind is Kind.GATEWAY:
        return (
            Rule(Access.SUBSCRIBE, f"{base}/+/{topics.EVENTS}/+"),
            Rule(Access.SUBSCRIBE, f"{base}/{topics.EDGE}/+/{topics.AVAILABILITY}"),
            Rule(Access.SUBSCRIBE, f"{base}/{topics.DEADLETTER}/+"),
            Rule(Access.SUBSCRIBE, f"{base}/{topics.MODELS}/+"),
            Rule(Access.PUBLISH, f"{base}/{topics.MODELS}/+"),
        )
    raise AssertionError(f"no rules for kind {principal.kind!r}")


def filter_within(topic_filter: str, pattern: str) -> bool:
    """Whether every topic ``topic_filter`` can match is also matched by ``pattern``."""
    f_parts, p_parts = topic_filter.split("/"), pattern.split("/")
    for i, part in enumerate(f_parts):
        if i >= len(p_parts):
            return False
        allowed = p_parts[i]
        if allowed == "#":
            return True
        if part == "#":
            return False
        if part == "+":
            if allowed != "+":
                return False
        elif allowed not in ("+", part):
            return False
    # "a/#" also matches "a" itself
    return len(f_parts) == len(p_parts) or (len(p_parts) == len(f_parts) + 1 and p_parts[-1] == "#")


def permits(rules: tuple[Rule, ...], access: Access, topic: str) -> bool:
    """Whether ``rules`` allow ``access`` to ``topic`` (a topic name to publish, or a filter to
    subscribe to)."""
    if access is Access.PUBLISH:
        if "+" in topic or "#" in topic:
            return False
        return any(r.access is access and topic_matches(r.pattern, topic) for r in rules)
    return any(r.access is access and filter_within(topic, r.pattern) for r in rules)
