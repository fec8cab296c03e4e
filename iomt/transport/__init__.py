"""The message-bus interface every tier talks to, and what its implementations share.

:mod:`iomt.transport.mqtt` implements it on paho; :mod:`iomt.transport.bulk_mqtt` is a lean
MQTT 3.1.1 client for the edge's high-rate data path. Handlers receive :class:`ReceivedMessage`,
a frozen dataclass, never a transport object.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from iomt.wire.availability import AvailabilityState

ONLINE = AvailabilityState.ONLINE.payload
OFFLINE = AvailabilityState.OFFLINE.payload
#: QoS 1 messages that may wait for the broker at once (MQTT message ids are 16-bit).
MAX_PENDING = 60_000
PENDING_WAIT_S = 60.0


class TransportError(RuntimeError):
    """The broker could not be reached or refused us; the message says which and why."""


def connect_timeout(url: str, timeout: float, why: str | None) -> TransportError:
    """The error of a client that did not connect to ``url`` within ``timeout`` seconds."""
    return TransportError(
        f"could not connect to MQTT broker {url} within {timeout:.0f} s ({why or 'no answer'}); "
        "is the broker running and the URL right?"
    )


def refused(url: str, reason: str) -> TransportError:
    """The error of a client whose CONNECT the broker answered with a refusal (``reason``)."""
    return TransportError(
        f"the MQTT broker {url} refused the connection: {reason}; check mqtt.username and mqtt.password "
        "(is this identity enrolled, and not revoked?)"
    )


def tls_failed(url: str, exc: BaseException | str) -> TransportError:
    """The error of a client whose TLS session with ``url`` failed (``exc``: the SSL error, or its
    text), naming why and what to check: our verification of the broker's certificate, or the broker
    ending the handshake (which is how it refuses a client certificate, or the lack of one)."""
    verify = getattr(exc, "verify_message", None)
    text = f"certificate verify failed: {verify}" if verify else str(getattr(exc, "reason", None) or exc)
    if verify or "CERTIFICATE_VERIFY_FAILED" in text:
        hint = ("is mqtt.tls.ca_file the CA that signed the broker's certificate, is that certificate still valid, "
                "and does it name this host?")
    else:
        hint = ("the broker ended the TLS handshake: does it require a client certificate (mqtt.tls.cert_file) "
                "signed by its CA, unexpired and not revoked?")
    return TransportError(f"TLS with the MQTT broker {url} failed: {text}; {hint}")


def backpressure_timeout(topic: str, pending: int, url: str) -> TransportError:
    """The error of a publish that found no room among the messages waiting for the broker."""
    return TransportError(
        f"publish to {topic}: {pending} messages still wait for {url} after "
        f"{PENDING_WAIT_S:.0f} s; the broker is down or too slow"
    )


@dataclass(frozen=True, slots=True)
class Availability:
    """Retained presence of a client: ``online`` while connected, ``offline`` otherwise (last will)."""

    topic: str
    online: bytes = ONLINE
    offline: bytes = OFFLINE


@dataclass
class BusStats:
    received: int = 0
    published: int = 0
    handler_errors: int = 0
    backpressure_waits: int = 0
    connects: int = 0
    disconnects: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


class TrackedDelivery:
    """Completion of one publish, set by the bus when the broker acknowledged it (or it was sent)."""

    __slots__ = ("_wait", "published")

    def __init__(self, wait: Callable[[TrackedDelivery, float | None], bool]) -> None:
        self._wait = wait
        self.published = False

    def wait(self, timeout: float | None = None) -> bool:
        return self._wait(self, timeout)

    def done(self) -> bool:
        return self.published


@dataclass(frozen=True, slots=True)
class ReceivedMessage:
    """One message as delivered by the broker. ``mid`` identifies it for a manual acknowledgement."""

    topic: str
    payload: bytes
    qos: int
    retain: bool
    mid: int = 0


Handler = Callable[[ReceivedMessage], None]


class Delivery(Protocol):
    """Tracks one published message."""

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the broker acknowledged it (QoS 1) or it was sent (QoS 0); True on success."""
        ...

    def done(self) -> bool: ...


class MessageBus(Protocol):
    """Publish/subscribe with the semantics the system relies on (see the design brief)."""

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> Delivery: ...

    def publish_many(self, messages: Sequence[tuple[str, bytes, int]], retain: bool = False) -> Sequence[Delivery]:
        """Publish ``(topic, payload, qos)`` triples in order (one hand-over where the bus allows)."""
        ...

    def subscribe(self, topic_filter: str, handler: Handler, qos: int = 1) -> None: ...

    def ack(self, message: ReceivedMessage) -> None: ...

    def ack_many(self, messages: list[ReceivedMessage]) -> None:
        """Acknowledge a batch (one socket write where the implementation allows)."""
        ...

    def stop(self) -> None: ...
