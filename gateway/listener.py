"""Follows the broker for what edges announce there: availability and dead letters."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from gateway.store.base import Store, StoreUnavailable
from gateway.store.records import WriteBatch
from iomt.transport import MessageBus, ReceivedMessage
from iomt.wire import topics
from iomt.wire.availability import decode_availability
from iomt.wire.deadletter import decode_deadletter
from iomt.wire.errors import DecodeError

log = logging.getLogger(__name__)


class BrokerListener:
    """Subscribes on ``bus``; handlers run on the transport's thread and write to the (thread-safe) store."""

    def __init__(self, bus: MessageBus, store: Store, site: str = "+") -> None:
        self.bus = bus
        self.store = store
        self.site = site
        self.malformed = 0
        #: messages that decoded but could not be stored (the store was down, or a fault of ours)
        self.failed = 0

    def start(self) -> None:
        self.bus.subscribe(topics.availability_filter(self.site), self.on_availability)
        self.bus.subscribe(topics.deadletter_filter(self.site), self.on_deadletter)

    def on_availability(self, message: ReceivedMessage) -> None:
        self._guarded(self._availability, message)

    def on_deadletter(self, message: ReceivedMessage) -> None:
        self._guarded(self._deadletter, message)

    def _guarded(self, handle: Callable[[ReceivedMessage], None], message: ReceivedMessage) -> None:
        """One message that cannot be stored is counted and logged; the next one is handled as usual."""
        try:
            handle(message)
        except StoreUnavailable as exc:
            self.failed += 1
            log.warning("could not store the message on %s: %s", message.topic[:200], exc)
        except Exception:
            self.failed += 1
            log.exception("failed on the message on %s; dropped it, the listener goes on", message.topic[:200])

    def _availability(self, message: ReceivedMessage) -> None:
        try:
            topic = topics.parse_topic(message.topic)
        except DecodeError:
            self.malformed += 1
            return
        if not message.payload:
            return  # a cleared retained message: the node was decommissioned, not "offline"
        try:
            status = decode_availability(message.payload)
        except DecodeError:
            self.malformed += 1
            log.warning("ignoring availability %r of %s: not online or offline", message.payload[:32], topic.name)
            return
        self.store.set_edge_status(topic.name, topic.site, status, time.time_ns() // 1000)

    def _deadletter(self, message: ReceivedMessage) -> None:
        try:
            letter = decode_deadletter(message.payload)
        except DecodeError as exc:
            self.malformed += 1
            log.warning("ignoring malformed dead-letter record on %s: %s", message.topic[:200], exc)
            return
        self.store.write(WriteBatch(deadletters=[letter]))
