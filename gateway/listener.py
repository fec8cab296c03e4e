"""Follows the broker for what edges announce there: availability and dead letters.

MQTT hands a message over once; when the store is down at that moment the message would be gone. So
what could not be stored waits in memory and is written when the store answers again (on the next
message, or on :meth:`BrokerListener.retry`, which the gateway calls every few seconds): dead letters
in order up to :data:`MAX_PENDING` (beyond it the oldest are shed, counted and logged), and each edge's
latest availability (an older status is superseded, not lost).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

from gateway.store.base import Store, StoreUnavailable
from gateway.store.records import WriteBatch
from iomt.transport import MessageBus, ReceivedMessage
from iomt.wire import topics
from iomt.wire.availability import decode_availability
from iomt.wire.deadletter import DeadLetter, decode_deadletter
from iomt.wire.errors import DecodeError

log = logging.getLogger(__name__)

#: Dead letters kept while the store is down (a few MB at most: each holds a payload head, not the payload).
MAX_PENDING = 10_000


class BrokerListener:
    """Subscribes on ``bus``; handlers run on the transport's thread and write to the (thread-safe) store."""

    def __init__(self, bus: MessageBus, store: Store, site: str = "+", max_pending: int = MAX_PENDING) -> None:
        self.bus = bus
        self.store = store
        self.site = site
        self.malformed = 0
        #: writes that failed (the store was down, or a fault of ours); what failed is kept and retried
        self.failed = 0
        #: dead letters shed because more than ``max_pending`` waited for the store
        self.shed = 0
        self._letters: deque[DeadLetter] = deque()
        self._status: dict[str, tuple[str, str, int]] = {}  # node -> (site, status, t_us) not yet stored
        self._max_pending = max_pending
        self._lock = threading.Lock()

    def start(self) -> None:
        self.bus.subscribe(topics.availability_filter(self.site), self.on_availability)
        self.bus.subscribe(topics.deadletter_filter(self.site), self.on_deadletter)

    @property
    def pending(self) -> int:
        """Messages waiting for the store."""
        with self._lock:
            return len(self._letters) + len(self._status)

    def on_availability(self, message: ReceivedMessage) -> None:
        self._guarded(self._availability, message)

    def on_deadletter(self, message: ReceivedMessage) -> None:
        self._guarded(self._deadletter, message)

    def retry(self) -> bool:
        """Write what waits for the store; True when nothing is left waiting."""
        with self._lock:
            try:
                self._flush()
            except StoreUnavailable:
                return False
            return True

    def _guarded(self, handle: Callable[[ReceivedMessage], None], message: ReceivedMessage) -> None:
        """A message that cannot be stored now is kept for later; a fault of ours is logged and the next
        message is handled as usual."""
        try:
            with self._lock:
                handle(message)
                self._flush()
        except StoreUnavailable as exc:
            self.failed += 1
            log.warning("could not store the message on %s now (%s); kept, %d waiting", message.topic[:200], exc,
                        self.pending)
        except Exception:
            self.failed += 1
            log.exception("failed on the message on %s; the listener goes on", message.topic[:200])

    def _flush(self) -> None:
        """Store what waits (caller holds the lock); raises StoreUnavailable while the store is down, keeping
        what is not stored yet. A message the store refuses for another reason is logged and dropped, so one
        bad message never holds back the rest."""
        for node, (site, status, t_us) in list(self._status.items()):
            self._attempt(f"edge {node}'s status", self.store.set_edge_status, node, site, status, t_us)
            del self._status[node]
        if not self._letters:
            return
        try:
            self.store.write(WriteBatch(deadletters=list(self._letters)))
            self._letters.clear()
        except StoreUnavailable:
            raise
        except Exception:
            while self._letters:  # one by one, to find the one the store refuses
                letter = self._letters[0]
                self._attempt(f"a dead letter from {letter.node!r} about {letter.topic[:200]!r}",
                              self.store.write, WriteBatch(deadletters=[letter]))
                self._letters.popleft()

    def _attempt(self, what: str, write: Callable[..., object], *args: object) -> None:
        try:
            write(*args)
        except StoreUnavailable:
            raise
        except Exception:
            self.failed += 1
            log.exception("the store refused %s; dropped it, the listener goes on", what)

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
        self._status[topic.name] = (topic.site, status, time.time_ns() // 1000)

    def _deadletter(self, message: ReceivedMessage) -> None:
        try:
            letter = decode_deadletter(message.payload)
        except DecodeError as exc:
            self.malformed += 1
            log.warning("ignoring malformed dead-letter record on %s: %s", message.topic[:200], exc)
            return
        self._letters.append(letter)
        if len(self._letters) > self._max_pending:
            self._letters.popleft()
            self.shed += 1
            log.warning("the store has been down for %d dead letters; shed the oldest (%d shed so far)",
                        self._max_pending, self.shed)
