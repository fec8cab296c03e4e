"""The message-bus interface every tier talks to; :mod:`iomt.transport.mqtt` implements it on paho.

Handlers receive :class:`ReceivedMessage`, a frozen dataclass, never a transport object.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


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

    def subscribe(self, topic_filter: str, handler: Handler, qos: int = 1) -> None: ...

    def ack(self, message: ReceivedMessage) -> None: ...

    def stop(self) -> None: ...
