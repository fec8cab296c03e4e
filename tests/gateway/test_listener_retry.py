"""What the broker listener could not store while the store was down is written when it is back (logic
only: a store stand-in that refuses on command; the real-broker path is tests/gateway/test_listener.py)."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.listener import BrokerListener
from gateway.store.base import StoreUnavailable
from gateway.store.records import WriteBatch
from iomt.transport import ReceivedMessage
from iomt.wire import topics
from iomt.wire.deadletter import encode_deadletter, make_deadletter


class FlakyStore:
    """Records what it stored; ``down`` makes every write raise StoreUnavailable, ``refuse`` names dead
    letters (by node) it rejects for a reason of its own."""

    def __init__(self) -> None:
        self.down = False
        self.refuse: set[str] = set()
        self.letters: list[str] = []
        self.status: dict[str, str] = {}

    def write(self, batch: WriteBatch) -> Any:
        if self.down:
            raise StoreUnavailable("disk I/O error")
        if any(d.node in self.refuse for d in batch.deadletters):
            raise ValueError("refused")
        self.letters += [d.node for d in batch.deadletters]

    def set_edge_status(self, node: str, site: str, status: str, t_us: int) -> None:
        if self.down:
            raise StoreUnavailable("disk I/O error")
        self.status[node] = status


class NoBus:
    def subscribe(self, *_: Any) -> None: ...


def letter(node: str) -> ReceivedMessage:
    record = make_deadletter("iomt/v1/w/p1/ecg", "seq", "not an integer", node, 1, b"{}")
    return ReceivedMessage(topics.deadletter("w", node), encode_deadletter(record), 1, False)


def status(node: str, value: str) -> ReceivedMessage:
    return ReceivedMessage(topics.availability("w", node), value.encode(), 1, True)


def listener(store: FlakyStore, max_pending: int = 100) -> BrokerListener:
    return BrokerListener(NoBus(), store, max_pending=max_pending)  # type: ignore[arg-type]


def test_dead_letters_and_status_that_arrive_while_the_store_is_down_are_written_in_order_when_it_is_back():
    store = FlakyStore()
    lis = listener(store)
    lis.on_deadletter(letter("e1"))
    store.down = True
    for node in ("e2", "e3"):
        lis.on_deadletter(letter(node))
    lis.on_availability(status("e1", "online"))
    lis.on_availability(status("e1", "offline"))  # supersedes "online", which never reached the store
    assert store.letters == ["e1"] and lis.pending == 3 and lis.failed == 4
    assert lis.retry() is False  # still down: nothing lost
    store.down = False
    assert lis.retry() is True
    assert store.letters == ["e1", "e2", "e3"] and store.status == {"e1": "offline"} and lis.pending == 0


def test_the_next_message_also_flushes_what_waits():
    store = FlakyStore()
    lis = listener(store)
    store.down = True
    lis.on_deadletter(letter("e1"))
    store.down = False
    lis.on_deadletter(letter("e2"))
    assert store.letters == ["e1", "e2"] and lis.pending == 0


def test_beyond_the_cap_the_oldest_waiting_dead_letters_are_shed_and_counted():
    store = FlakyStore()
    lis = listener(store, max_pending=2)
    store.down = True
    for node in ("e1", "e2", "e3", "e4"):
        lis.on_deadletter(letter(node))
    assert lis.shed == 2 and lis.pending == 2
    store.down = False
    assert lis.retry() and store.letters == ["e3", "e4"]


@pytest.mark.allow_logged_errors  # the refusal is logged with its traceback, on purpose
def test_a_dead_letter_the_store_refuses_is_dropped_without_holding_back_the_others():
    store = FlakyStore()
    lis = listener(store)
    store.down = True
    for node in ("e1", "bad", "e3"):
        lis.on_deadletter(letter(node))
    store.down, store.refuse = False, {"bad"}
    assert lis.retry() is True
    assert store.letters == ["e1", "e3"] and lis.pending == 0 and lis.failed == 4  # 3 while down, 1 refused


def test_a_malformed_dead_letter_is_counted_not_kept():
    store = FlakyStore()
    lis = listener(store)
    lis.on_deadletter(ReceivedMessage(topics.deadletter("w", "e1"), b"not json", 1, False))
    assert lis.malformed == 1 and lis.pending == 0 and store.letters == []
