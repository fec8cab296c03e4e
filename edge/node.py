"""The edge node: wires the transport, decoding, processing, outbox and uplink together.

Threads: paho's network thread only enqueues messages; one worker thread decodes, processes and
commits them to the outbox, then acknowledges them to the broker (manual ack), so a message is
acknowledged only once it is durable here; the uplink thread drains the outbox to the gateway.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass

from edge.config import EdgeConfig
from edge.heart_rate import HeartRateMonitor
from edge.outbox import Outbox
from edge.sequence import SequenceTracker
from edge.uplink import GatewayClient, UplinkSender
from iomt.transport import MessageBus, ReceivedMessage
from iomt.transport.mqtt import Availability, MqttBus
from iomt.wire import topics
from iomt.wire.deadletter import encode_deadletter, make_deadletter
from iomt.wire.errors import DecodeError
from iomt.wire.events import Event, encode_event
from iomt.wire.frames import Frame, Reading, decode_payload, encode_frame, encode_reading
from iomt.wire.uplink import RecordKind, UplinkRecord

log = logging.getLogger(__name__)

BATCH_MAX = 2000


@dataclass
class EdgeCounters:
    messages: int = 0
    frames: int = 0
    readings: int = 0
    events: int = 0
    dead_letter: int = 0
    ignored: int = 0


class EdgeProcessor:
    """Pure-ish message handling: topic + payload in, outbox records and outgoing events out."""

    def __init__(self, config: EdgeConfig) -> None:
        self.config = config
        self.sequences = SequenceTracker()
        self.heart_rate = HeartRateMonitor(config.site, config.node_id, config.hr_window_s, config.hr_interval_s)
        self.counters = EdgeCounters()
        self.rejections: dict[str, int] = {}

    def handle(self, topic: str, payload: bytes) -> tuple[list[UplinkRecord], list[Event], bytes | None]:
        """Process one message: records for the outbox, events to publish, or a dead-letter body."""
        self.counters.messages += 1
        try:
            parsed = topics.parse_topic(topic)
            if parsed.kind is not topics.TopicKind.DATA:
                # The data filter also matches system topics (our own dead letters, model manifests):
                # they are not data, and rejecting them would feed the dead-letter topic to itself.
                self.counters.ignored += 1
                return [], [], None
            message = decode_payload(
                payload, device=parsed.device, stream=parsed.name, max_bytes=self.config.max_payload_bytes
            )
        except DecodeError as exc:
            self.counters.dead_letter += 1
            self.rejections[exc.field] = self.rejections.get(exc.field, 0) + 1
            letter = make_deadletter(topic, exc.field, exc.reason, self.config.node_id, time.time_ns() // 1000, payload)
            return [], [], encode_deadletter(letter)
        verdict = self.sequences.observe(message.device, message.stream, message.seq)
        if isinstance(message, Reading):
            self.counters.readings += 1
            return [UplinkRecord(RecordKind.READING, encode_reading(message))], [], None
        self.counters.frames += 1
        records = [UplinkRecord(RecordKind.FRAME, encode_frame(message))]
        events = self._process(message, verdict)
        for event in events:
            records.append(UplinkRecord(RecordKind.EVENT, encode_event(event)))
        self.counters.events += len(events)
        return records, events, None

    def _process(self, frame: Frame, verdict: str) -> list[Event]:
        if frame.stream != "ecg" or verdict in ("late", "duplicate"):
            return []
        if verdict == "gap":
            self.heart_rate.reset(frame.device)
        event = self.heart_rate.on_frame(frame)
        return [event] if event is not None else []


class EdgeNode:
    """Runs an :class:`EdgeProcessor` on a live bus with a durable outbox and uplink."""

    def __init__(self, config: EdgeConfig, bus: MessageBus | None = None) -> None:
        self.config = config
        self.processor = EdgeProcessor(config)
        self.outbox = Outbox(config.outbox_path, config.outbox_synchronous)
        self.uplink = UplinkSender(
            self.outbox, GatewayClient(config.gateway_url, config.uplink_timeout_s), config.uplink_batch
        )
        self._own_bus = bus is None
        self.bus: MessageBus = bus or MqttBus(
            config.mqtt,
            client_id=f"iomt-edge-{config.node_id}",
            clean_session=False,  # the broker keeps our QoS 1 messages while we are away
            availability=Availability(topics.availability(config.site, config.node_id)),
            manual_ack=True,
        )
        self._queue: queue.Queue[ReceivedMessage] = queue.Queue()
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None

    def start(self) -> EdgeNode:
        self.uplink.start()
        self._worker = threading.Thread(target=self._work, name="edge-worker", daemon=True)
        self._worker.start()
        self.bus.subscribe(topics.data_filter(self.config.site), self._queue.put, qos=1)
        if isinstance(self.bus, MqttBus) and self._own_bus:
            self.bus.start()
        log.info("edge node %s processing site %s", self.config.node_id, self.config.site)
        return self

    def stop(self, drain_s: float = 10.0) -> None:
        """Stop taking messages, finish the queue, try to drain the outbox, disconnect."""
        if self._own_bus:
            self.bus.stop()
        self._stop.set()
        if self._worker is not None:
            self._worker.join(10)
        deadline = time.monotonic() + drain_s
        self.uplink.wake.set()
        while time.monotonic() < deadline and self.outbox.depth() > 0:
            time.sleep(0.05)
        self.uplink.stop()
        self.outbox.close()

    def _work(self) -> None:
        while not (self._stop.is_set() and self._queue.empty()):
            try:
                first = self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
            batch = [first]
            while len(batch) < BATCH_MAX:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._handle_batch(batch)
            except Exception:
                log.exception("edge worker failed on a batch of %d; they stay unacknowledged", len(batch))

    def _handle_batch(self, batch: list[ReceivedMessage]) -> None:
        records: list[UplinkRecord] = []
        to_publish: list[tuple[str, bytes]] = []
        for message in batch:
            new_records, events, dead = self.processor.handle(message.topic, message.payload)
            records.extend(new_records)
            for event in events:
                to_publish.append((topics.event(self.config.site, event.device, event.model), encode_event(event)))
            if dead is not None:
                to_publish.append((topics.deadletter(self.config.site, self.config.node_id), dead))
        self.outbox.append(records)
        self.uplink.wake.set()
        for topic, payload in to_publish:
            self.bus.publish(topic, payload, qos=1)
        for message in batch:
            self.bus.ack(message)
