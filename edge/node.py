"""The edge node: wires the transport, the processor (:mod:`edge.processor`: decoding, pipelines and
inference), the outbox and the uplink together.

Threads: the MQTT network thread only enqueues messages (stamped with their arrival); one worker
thread hands a batch to the processor, commits its frames and events to the outbox, publishes the
events, records latency and cycle metrics, and only then acknowledges the messages to the broker
(manual ack, one write per batch) — so a message is acknowledged once it is durable here. The
uplink thread drains the outbox to the gateway. The bus is the lean
:class:`iomt.transport.bulk_mqtt.BulkMqttBus`: at a thousand patients paho alone took a third of
the core.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque

from edge.config import EdgeConfig
from edge.device_keys import DeviceKeyClient, EdgeKeyRing
from edge.gc_pauses import GcPauses, freeze_startup
from edge.metrics import EdgeMetrics
from edge.outbox import Outbox
from edge.processor import BatchResult, EdgeProcessor
from edge.uplink import GatewayClient, UplinkSender
from iomt.transport import Availability, MessageBus, ReceivedMessage
from iomt.transport.bulk_mqtt import BulkMqttBus
from iomt.wire import topics
from iomt.wire.events import EventKind

log = logging.getLogger(__name__)

#: Event topics whose name is remembered (bounded, like the parsed data topics).
MAX_CACHED_TOPICS = 200_000


class EdgeNode:
    """Runs an :class:`EdgeProcessor` on a live bus with a durable outbox and uplink."""

    def __init__(self, config: EdgeConfig, bus: MessageBus | None = None) -> None:
        self.config = config
        self.metrics = EdgeMetrics()
        token = config.uplink_secret()
        key_client = DeviceKeyClient(config.gateway_url, token, config.uplink_timeout_s, config.gateway_ca_file) \
            if token else None
        #: device keys fetched from the gateway as images need them, to open sealed images (memory only)
        self.keys = EdgeKeyRing(key_client)
        self.processor = EdgeProcessor(config, keys=self.keys)
        self.outbox = Outbox(config.outbox_path, config.outbox_synchronous, max_bytes=int(config.outbox_max_mb * 2**20))
        client = GatewayClient(config.gateway_url, config.uplink_timeout_s, config.node_id, token,
                               config.gateway_ca_file)
        self.uplink = UplinkSender(self.outbox, client, config.uplink_batch)
        self._own_bus = bus is None
        self.bus: MessageBus = bus or BulkMqttBus(
            config.mqtt,
            client_id=f"iomt-edge-{config.node_id}",
            clean_session=False,  # the broker keeps our QoS 1 messages while we are away
            availability=Availability(topics.availability(config.site, config.node_id)),
            manual_ack=True,
        )
        self._inbox: deque[tuple[ReceivedMessage, int]] = deque()
        self._arrived = threading.Event()
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self._next_poll = 0.0
        self._seen: dict[str, tuple[int, int, float]] = {}
        self._sequence_seen: dict[str, int] = {}
        self.gc = GcPauses()
        self._event_topics: dict[tuple[str, str], str] = {}

    def start(self) -> EdgeNode:
        self._poll_models()
        frozen = freeze_startup()  # models and modules are loaded: keep them out of every collection
        self.gc.install()
        log.debug("froze %d start-up objects out of the garbage collector", frozen)
        if self.config.metrics_port is not None:
            self.metrics.serve(self.config.metrics_port)
        self.uplink.start()
        if self.keys.client is None:
            log.warning("no uplink token (uplink_token_file): device keys cannot be fetched, so sealed images are "
                        "forwarded unopened and not analysed here")
        self.keys.start()
        self._worker = threading.Thread(target=self._work, name="edge-worker", daemon=True)
        self._worker.start()
        self.bus.subscribe(topics.data_filter(self.config.site), self._enqueue, qos=1)
        if isinstance(self.bus, BulkMqttBus) and self._own_bus:
            self.bus.start()
        log.info("edge node %s processing site %s with models %s", self.config.node_id, self.config.site,
                 self.processor.registry.versions() or "none")
        return self

    def _enqueue(self, message: ReceivedMessage) -> None:
        self._inbox.append((message, time.monotonic_ns()))  # deque.append is atomic: no lock per message
        if not self._arrived.is_set():
            self._arrived.set()

    def stop(self, drain_s: float = 10.0) -> None:
        """Stop taking messages, finish the queue, try to drain the outbox, disconnect."""
        if self._own_bus:
            self.bus.stop()
        self._stop.set()
        if self._worker is not None:
            self._worker.join(10)
        deadline = time.monotonic() + drain_s
        self.uplink.wake.set()
        while time.monotonic() < deadline and self.outbox.pending > 0:
            time.sleep(0.05)
        self.uplink.stop()
        self.keys.stop()
        self.outbox.close()
        self.gc.uninstall()

    def _poll_models(self) -> None:
        self._next_poll = time.monotonic() + self.config.model_poll_s
        for change in self.processor.registry.poll():
            if change.new_version is not None:
                if change.old_version is not None:
                    self.metrics.model_version.remove(change.name, change.old_version)
                self.metrics.model_version.labels(change.name, change.new_version).set(1)

    def _work(self) -> None:
        limit = self.config.max_batch_messages
        period = self.config.min_cycle_ms / 1e3
        inbox = self._inbox
        started = 0.0
        while not (self._stop.is_set() and not inbox):
            if time.monotonic() >= self._next_poll:
                self._poll_models()
            if not inbox:
                if self.processor.images_pending:  # images queued past earlier cycles' budgets: a cycle for them
                    time.sleep(period)
                    if not inbox:
                        self._cycle([])
                        continue
                else:
                    self._arrived.wait(0.1)
                    self._arrived.clear()  # anything appended before this is taken below; after it sets again
                    continue
            # Cycles at most every `period`: what arrives meanwhile joins the batch, so the per-cycle
            # costs (one outbox transaction, one batched filter/model call per pipeline) are shared
            # by many patients instead of paid for a handful of messages at a time.
            rest = started + period - time.perf_counter()
            if rest > 0 and len(inbox) < limit and not self._stop.is_set():
                time.sleep(rest)
            started = self._cycle([inbox.popleft() for _ in range(min(limit, len(inbox)))])

    def _cycle(self, batch: list[tuple[ReceivedMessage, int]]) -> float:
        """Handle one batch (timed); its start time (``perf_counter``)."""
        started = time.perf_counter()
        try:
            self._handle_batch(batch)
        except Exception:
            log.exception("edge worker failed on a batch of %d; they stay unacknowledged", len(batch))
        self.metrics.cycle.observe(time.perf_counter() - started)
        self.metrics.cycle_messages.observe(len(batch))
        return started

    def _handle_batch(self, batch: list[tuple[ReceivedMessage, int]]) -> None:
        result = self.processor.handle_batch([(m.topic, m.payload, arrival) for m, arrival in batch])
        self.outbox.append(result.records)
        self.uplink.wake.set()
        site, node = self.config.site, self.config.node_id
        kinds: dict[EventKind, int] = {}
        outgoing: list[tuple[str, bytes, int]] = []
        for event, payload in zip(result.events, result.event_payloads, strict=True):
            # alerts and quality findings at QoS 1; routine inferences at QoS 0 on MQTT (live view
            # only): every event also travels durably through the outbox to the store
            qos = 0 if event.kind is EventKind.INFERENCE else 1
            outgoing.append((self._event_topic(event.device, event.model), payload, qos))
            kinds[event.kind] = kinds.get(event.kind, 0) + 1
        outgoing.extend((topics.deadletter(site, node), letter, 1) for letter in result.deadletters)
        if outgoing:
            self.bus.publish_many(outgoing)
        for kind, count in kinds.items():
            self.metrics.events.labels(kind).inc(count)
        published = time.monotonic_ns()
        # a window's latency: arrival of its last sample to publication of its event; of it, the part
        # before this cycle began (queued, or waiting for data the window needs), the rest this cycle
        for inferred in result.inferred:
            arrivals = [window.arrival_ns for window in inferred.windows]
            self.metrics.latency.observe_many([(published - arrival) / 1e9 for arrival in arrivals], inferred.model)
            self.metrics.wait.observe_many([(result.started_ns - arrival) / 1e9 for arrival in arrivals],
                                           inferred.model)
        self.bus.ack_many([message for message, _ in batch])
        self._observe(result)

    def _event_topic(self, device: str, model: str) -> str:
        topic = self._event_topics.get((device, model))
        if topic is None:
            topic = topics.event(self.config.site, device, model)
            if len(self._event_topics) < MAX_CACHED_TOPICS:
                self._event_topics[(device, model)] = topic
        return topic

    def _observe(self, result: BatchResult) -> None:
        m = self.metrics
        m.messages.labels("accepted").inc(result.accepted)
        if result.deadletters:
            m.messages.labels("rejected").inc(len(result.deadletters))
        for model, stats in self.processor.engine.stats.items():
            windows, inferences, invoke_s = self._seen.get(model, (0, 0, 0.0))
            m.windows.labels(model).inc(stats.windows - windows)
            m.inferences.labels(model).inc(stats.inferences - inferences)
            if stats.invoke_s > invoke_s:
                m.invoke.labels(model).observe(stats.invoke_s - invoke_s)
            self._seen[model] = (stats.windows, stats.inferences, stats.invoke_s)
        totals = self.processor.sequences.totals()
        for kind in ("missing", "duplicates", "reordered", "restarts", "jumps"):
            delta = totals[kind] - self._sequence_seen.get(kind, 0)
            if delta > 0:
                m.sequence.labels(kind).inc(delta)
            self._sequence_seen[kind] = totals[kind]
        m.outbox_depth.set(self.outbox.pending)
        m.shed.inc(self.outbox.take_shed())
