"""The edge node: wires the transport, decoding, pipelines, inference, outbox and uplink together.

Threads: the MQTT network thread only enqueues messages (stamped with their arrival); one worker
thread decodes a batch, feeds the pipelines, runs the ready windows through their models, commits
frames and events to the outbox, publishes the events, and only then acknowledges the messages to
the broker (manual ack, one write per batch) — so a message is acknowledged once it is durable
here. The uplink thread drains the outbox to the gateway. The bus is the lean
:class:`iomt.transport.bulk_mqtt.BulkMqttBus`: at a thousand patients paho alone took a third of
the core.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from edge.alerts import AlertContext
from edge.config import EdgeConfig
from edge.device_keys import DeviceKeyClient, EdgeKeyRing
from edge.ecg_pipeline import EcgPipeline
from edge.emotion_pipeline import EmotionPipeline
from edge.fall_pipeline import FallPipeline
from edge.gc_pauses import GcPauses, freeze_startup
from edge.image_ingest import ImageArrival, ImageIngest
from edge.inference import InferenceEngine
from edge.metrics import EdgeMetrics
from edge.outbox import Outbox
from edge.pipeline import Pipeline, Window
from edge.quality_state import QualityTracker
from edge.registry import ModelRegistry
from edge.sequence import SequenceTracker
from edge.uplink import GatewayClient, UplinkSender
from iomt.transport import Availability, MessageBus, ReceivedMessage
from iomt.transport.bulk_mqtt import BulkMqttBus
from iomt.wire import envelope, topics
from iomt.wire.chunks import CHUNK_HEADER
from iomt.wire.deadletter import encode_deadletter, make_deadletter
from iomt.wire.errors import DecodeError
from iomt.wire.events import Event, encode_event
from iomt.wire.frames import Reading, decode_payload, encode_frame
from iomt.wire.streams import CHUNKED_STREAMS
from iomt.wire.uplink import RecordKind, UplinkRecord

log = logging.getLogger(__name__)


@dataclass
class EdgeCounters:
    messages: int = 0
    frames: int = 0
    readings: int = 0
    events: int = 0
    dead_letter: int = 0
    ignored: int = 0
    image_chunks: int = 0
    images: int = 0


@dataclass
class BatchResult:
    records: list[UplinkRecord] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    #: ``events`` encoded once, for the outbox and for MQTT alike
    event_payloads: list[bytes] = field(default_factory=list)
    deadletters: list[bytes] = field(default_factory=list)
    windows: list[Window] = field(default_factory=list)
    #: complete images accepted in this batch (pixels when opened here), for an imaging pipeline
    images: list[ImageArrival] = field(default_factory=list)


class EdgeProcessor:
    """Message handling without I/O: topic + payload in; outbox records, events and dead letters out."""

    def __init__(self, config: EdgeConfig, registry: ModelRegistry | None = None,
                 keys: envelope.KeyLookup | None = None) -> None:
        self.config = config
        ctx = AlertContext(config.site, config.node_id)
        self.quality = QualityTracker(config.site, config.node_id)
        self.sequences = SequenceTracker()
        self.counters = EdgeCounters()
        self.rejections: dict[str, int] = {}
        self.pipelines: list[Pipeline] = [
            EcgPipeline(ctx, self.quality, config.ecg_window_s, config.ecg_hop_s, config.hr_interval_s),
            FallPipeline(ctx, self.quality, config.fall_screen_g),
            EmotionPipeline(ctx),
        ]
        self.registry = registry or ModelRegistry(config.models_dir, config.models)
        self.images = ImageIngest(keys if keys is not None else (lambda _device, _key_id: None),
                                  allow_unencrypted=config.allow_unencrypted_images)
        self._topics: dict[str, topics.Topic] = {}
        self._by_stream: dict[str, list[Pipeline]] = {}
        for pipeline in self.pipelines:
            for stream in pipeline.streams:
                self._by_stream.setdefault(stream, []).append(pipeline)
        self.engine = InferenceEngine(self.registry, self.pipelines, config.batched_inference)

    def handle(self, topic: str, payload: bytes) -> tuple[list[UplinkRecord], list[Event], bytes | None]:
        """One message on its own (tests, tools): records, events and the dead letter if rejected."""
        result = self.handle_batch([(topic, payload, time.monotonic_ns())])
        return result.records, result.events, (result.deadletters[0] if result.deadletters else None)

    def handle_batch(self, messages: list[tuple[str, bytes, int]]) -> BatchResult:
        result = BatchResult()
        started = time.monotonic_ns()
        for topic, payload, arrival_ns in messages:
            self._decode(topic, payload, arrival_ns, result)
        if self.images.waiting:
            opened, _refused = self.images.ready()  # keys that arrived: open the waiting images for analysis
            result.images.extend(opened)
        events, result.windows = self.engine.cycle()
        for window in result.windows:
            window.cycle_ns = started
        result.events.extend(events)
        result.event_payloads = [encode_event(event) for event in result.events]
        result.records.extend(UplinkRecord(RecordKind.EVENT, payload) for payload in result.event_payloads)
        self.counters.events += len(result.events)
        return result

    def _image_chunk(self, topic: topics.Topic, payload: bytes, result: BatchResult) -> None:
        """Reassemble, check and open imaging objects (raises DecodeError naming the field); a complete one
        is forwarded to the gateway still sealed (:mod:`edge.image_ingest`) and its pixels, when opened,
        are in ``result.images`` for an imaging pipeline."""
        self.counters.image_chunks += 1
        assert topic.device is not None
        arrival = self.images.chunk(topic.device, topic.name, payload)
        if arrival is not None:
            result.records.append(arrival.record)
            result.images.append(arrival)
            self.counters.images += 1

    def _decode(self, topic: str, payload: bytes, arrival_ns: int, result: BatchResult) -> None:
        self.counters.messages += 1
        parsed: topics.Topic | None = None
        try:
            parsed = self._topics.get(topic)
            if parsed is None:
                parsed = topics.parse_topic(topic)
                if len(self._topics) < 200_000:  # bounded: a flood of junk topics must not grow memory
                    self._topics[topic] = parsed
            if parsed.kind is not topics.TopicKind.DATA:
                # The data filter also matches system topics (our own dead letters, model manifests):
                # they are not data, and rejecting them would feed the dead-letter topic to itself.
                self.counters.ignored += 1
                return
            if parsed.name in CHUNKED_STREAMS:
                self._image_chunk(parsed, payload, result)
                return
            message = decode_payload(
                payload, device=parsed.device, stream=parsed.name, max_bytes=self.config.max_payload_bytes
            )
        except DecodeError as exc:
            self.counters.dead_letter += 1
            self.rejections[exc.field] = self.rejections.get(exc.field, 0) + 1
            letter = make_deadletter(topic, exc.field, exc.reason, self.config.node_id, time.time_ns() // 1000, payload)
            if parsed is not None and parsed.name in CHUNKED_STREAMS:  # an image's dead letter keeps no pixels
                letter = make_deadletter(topic, exc.field, exc.reason, self.config.node_id, letter.t_us,
                                         payload[:CHUNK_HEADER.size])
                letter = dataclasses.replace(letter, payload_len=len(payload))
            result.deadletters.append(encode_deadletter(letter))
            return
        verdict = self.sequences.observe(message.device, message.stream, message.seq)
        if isinstance(message, Reading):
            self.counters.readings += 1
            # forwarded as received: it passed the same decoder the gateway applies
            result.records.append(UplinkRecord(RecordKind.READING, payload))
            return
        self.counters.frames += 1
        result.records.append(UplinkRecord(RecordKind.FRAME, encode_frame(message)))
        if verdict in ("late", "duplicate"):
            return  # stored (the store de-duplicates), but windows are cut from in-order signal only
        for pipeline in self._by_stream.get(message.stream, ()):
            if verdict == "gap":
                pipeline.on_gap(message.device, message.stream)
            result.events.extend(pipeline.on_frame(message, arrival_ns))


class EdgeNode:
    """Runs an :class:`EdgeProcessor` on a live bus with a durable outbox and uplink."""

    def __init__(self, config: EdgeConfig, bus: MessageBus | None = None) -> None:
        self.config = config
        self.metrics = EdgeMetrics()
        token = config.uplink_secret()
        client = DeviceKeyClient(config.gateway_url, token, config.uplink_timeout_s, config.gateway_ca_file) \
            if token else None
        #: device keys fetched from the gateway as images need them, to open sealed images (memory only)
        self.keys = EdgeKeyRing(client)
        self.processor = EdgeProcessor(config, keys=self.keys)
        self.outbox = Outbox(config.outbox_path, config.outbox_synchronous, max_bytes=int(config.outbox_max_mb * 2**20))
        self.uplink = UplinkSender(
            self.outbox, GatewayClient(config.gateway_url, config.uplink_timeout_s, config.node_id), config.uplink_batch
        )
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
        #: window-to-event latency per model (bounded), for benchmarks and stats
        self.latencies_ms: dict[str, list[float]] = {}
        #: (milliseconds, messages) of recent processing cycles (bounded), for benchmarks and stats
        self.cycles: deque[tuple[float, int]] = deque(maxlen=100_000)
        #: of each window's latency, the part before the cycle that cut it began (waiting in the
        #: queue, or for data the window needs); the rest is that cycle's work up to publication
        self.waits_ms: deque[float] = deque(maxlen=200_000)
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
                self._arrived.wait(0.1)
                self._arrived.clear()  # anything appended before this is taken below; after it sets again
                continue
            # Cycles at most every `period`: what arrives meanwhile joins the batch, so the per-cycle
            # costs (one outbox transaction, one batched filter/model call per pipeline) are shared
            # by many patients instead of paid for a handful of messages at a time.
            rest = started + period - time.perf_counter()
            if rest > 0 and len(inbox) < limit and not self._stop.is_set():
                time.sleep(rest)
            batch = [inbox.popleft() for _ in range(min(limit, len(inbox)))]
            started = time.perf_counter()
            try:
                self._handle_batch(batch)
            except Exception:
                log.exception("edge worker failed on a batch of %d; they stay unacknowledged", len(batch))
            elapsed = time.perf_counter() - started
            self.cycles.append((elapsed * 1e3, len(batch)))
            self.metrics.cycle.observe(elapsed)

    def _handle_batch(self, batch: list[tuple[ReceivedMessage, int]]) -> None:
        result = self.processor.handle_batch([(m.topic, m.payload, arrival) for m, arrival in batch])
        self.outbox.append(result.records)
        self.uplink.wake.set()
        site, node = self.config.site, self.config.node_id
        kinds: dict[str, int] = {}
        outgoing: list[tuple[str, bytes, int]] = []
        for event, payload in zip(result.events, result.event_payloads, strict=True):
            # alerts and quality findings at QoS 1; routine inferences at QoS 0 on MQTT (live view
            # only): every event also travels durably through the outbox to the store
            qos = 0 if event.kind == "inference" else 1
            outgoing.append((self._event_topic(event.device, event.model), payload, qos))
            kinds[event.kind] = kinds.get(event.kind, 0) + 1
        outgoing.extend((topics.deadletter(site, node), letter, 1) for letter in result.deadletters)
        if outgoing:
            self.bus.publish_many(outgoing)
        for kind, count in kinds.items():
            self.metrics.events.labels(kind).inc(count)
        published = time.monotonic_ns()
        by_model: dict[str, list[float]] = {}
        for window in result.windows:
            by_model.setdefault(window.model, []).append((published - window.arrival_ns) / 1e6)
            self.waits_ms.append((window.cycle_ns - window.arrival_ns) / 1e6)
        for model, values in by_model.items():
            latencies = self.latencies_ms.setdefault(model, [])
            latencies.extend(values)
            if len(latencies) > 200_000:
                del latencies[:100_000]
            histogram = self.metrics.latency.labels(model)
            for value in values:
                histogram.observe(value / 1e3)
        self.bus.ack_many([message for message, _ in batch])
        self._observe(result)

    def _event_topic(self, device: str, model: str) -> str:
        topic = self._event_topics.get((device, model))
        if topic is None:
            topic = topics.event(self.config.site, device, model)
            if len(self._event_topics) < 200_000:
                self._event_topics[(device, model)] = topic
        return topic

    def _observe(self, result: BatchResult) -> None:
        m = self.metrics
        m.messages.labels("accepted").inc(len(result.records) - len(result.events))
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
        for kind in ("missing", "duplicates", "reordered"):
            delta = totals[kind] - self._sequence_seen.get(kind, 0)
            if delta > 0:
                m.sequence.labels(kind).inc(delta)
            self._sequence_seen[kind] = totals[kind]
        m.outbox_depth.set(self.outbox.pending)
        m.shed.inc(self.outbox.take_shed())
