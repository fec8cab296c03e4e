"""Turns an uplink batch into a store write: decode every record, keep the good, dead-letter the bad."""

from __future__ import annotations

import dataclasses
import logging
import time

from gateway.store.records import WriteBatch
from iomt.wire.deadletter import DeadLetter, make_deadletter
from iomt.wire.errors import DecodeError
from iomt.wire.events import Event, decode_event
from iomt.wire.frames import Frame, Reading, decode_payload
from iomt.wire.uplink import RecordKind, UplinkRecord

log = logging.getLogger(__name__)

UPLINK_TOPIC = "uplink"


def batch_from_records(records: list[UplinkRecord], node: str) -> WriteBatch:
    """Decode records; a record that fails validation becomes a dead letter, the rest are kept.

    ``node`` is the edge the batch comes from (its credential): an event naming another node is a
    forgery and is dead-lettered; one naming none is attributed to ``node``.
    """
    frames: list[Frame] = []
    readings: list[Reading] = []
    events: list[Event] = []
    dead: list[DeadLetter] = []
    for record in records:
        try:
            if record.kind is RecordKind.EVENT:
                event = decode_event(record.payload)
                if event.node and event.node != node:
                    raise DecodeError("node", f"the event names node {event.node!r} but the batch comes from "
                                              f"edge {node!r}; an edge sends only its own events")
                events.append(event if event.node else dataclasses.replace(event, node=node))
                continue
            message = decode_payload(record.payload, max_bytes=len(record.payload) + 1)
            if record.kind is RecordKind.FRAME and isinstance(message, Frame):
                frames.append(message)
            elif record.kind is RecordKind.READING and isinstance(message, Reading):
                readings.append(message)
            elif isinstance(message, Frame):
                frames.append(message)  # a JSON waveform sent as a reading is still a frame
            else:
                raise DecodeError("kind", f"record kind {record.kind.name} does not match its payload")
        except DecodeError as exc:
            dead.append(
                make_deadletter(UPLINK_TOPIC, exc.field, exc.reason, node, time.time_ns() // 1000, record.payload)
            )
        except Exception as exc:  # a fault of ours on one record must not fail the batch around it
            log.exception("gateway failed on an uplink record of %s; dead-lettered", node)
            reason = f"the gateway failed on it ({type(exc).__name__}: {exc})"[:300]
            dead.append(make_deadletter(UPLINK_TOPIC, "processing", reason, node, time.time_ns() // 1000,
                                        record.payload))
    return WriteBatch(frames, readings, events, dead)
