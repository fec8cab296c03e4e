"""Follows the broker for what edges announce there: availability and dead letters."""

from __future__ import annotations

import logging
import time

from gateway.store.base import Store
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

    def start(self) -> None:
        self.bus.subscribe(topics.availability_filter(self.site), self.on_availability)
        self.bus.subscribe(topics.deadletter_filter(self.site), self.on_deadletter)

    def on_availability(self, message: ReceivedMessage) -> None:
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

    def on_deadletter(self, message: ReceivedMessage) -> None:
        try:
            letter = decode_deadletter(message.payload)
        except (ValueError, TypeError):
            self.malformed += 1
            log.warning("ignoring malformed dead-letter record on %s", message.topic)
            return
        self.store.write(WriteBatch(deadletters=[letter]))
