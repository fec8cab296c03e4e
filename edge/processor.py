"""Message handling of an edge node without I/O: topic + payload in; outbox records, events and dead
letters out.

A data message is decoded (a bad one becomes a dead letter naming the field), its sequence number
classified, and it is forwarded as received; a waveform frame in order also feeds the pipelines of
this node's models (:mod:`edge.pipeline_registry`), and so does a reading in order (vital signs) the
pipelines that read its stream (:class:`edge.pipeline.ReadingPipeline`). Imaging chunks are
reassembled, checked and opened with the device's key (:mod:`edge.image_ingest`); a complete image is
forwarded still sealed, and one opened here goes to the imaging model's queue when this node runs it
(:mod:`edge.imaging_pipeline`). Each batch ends with one inference cycle: the window pipelines', then
the imaging model on its own budget (a few images a cycle at most, the rest queued).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from edge.config import EdgeConfig, ModelName
from edge.events import EventFactory
from edge.image_ingest import ImageArrival, ImageIngest
from edge.inference import InferenceEngine, Inferred, ModelStats
from edge.pipeline import DescriptorAware, Pipeline, ReadingPipeline
from edge.pipeline_registry import PipelineContext, build_imaging, build_pipelines
from edge.quality_state import QualityTracker
from edge.registry import ModelRegistry
from edge.sequence import SequenceTracker, Verdict
from iomt.wire import envelope, topics
from iomt.wire.chunks import CHUNK_HEADER
from iomt.wire.deadletter import encode_deadletter, make_deadletter
from iomt.wire.descriptor import DeviceDescriptor, decode_descriptor
from iomt.wire.errors import DecodeError
from iomt.wire.events import Event, encode_event
from iomt.wire.frames import Reading, decode_payload, encode_frame
from iomt.wire.streams import CHUNKED_STREAMS
from iomt.wire.uplink import RecordKind, UplinkRecord

log = logging.getLogger(__name__)

#: Topics whose parse is remembered (bounded: a flood of junk topics must not grow memory).
MAX_CACHED_TOPICS = 200_000


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
    #: frames that continued their stream and went to the pipelines (the others are only forwarded)
    analysed: int = 0
    #: messages whose handling failed on a fault of ours (dead-lettered as ``processing``, logged)
    failed: int = 0
    #: inference cycles that failed (logged); the batch's records are forwarded all the same
    failed_cycles: int = 0
    #: device descriptors taken (new or changed; a bad one is a dead letter)
    descriptors: int = 0


@dataclass
class BatchResult:
    """What one batch of messages gave."""

    #: monotonic time at which handling the batch began
    started_ns: int
    records: list[UplinkRecord] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    #: ``events`` encoded once, for the outbox and for MQTT alike
    event_payloads: list[bytes] = field(default_factory=list)
    deadletters: list[bytes] = field(default_factory=list)
    #: the windows that went through a model in this batch's cycle, by model
    inferred: list[Inferred] = field(default_factory=list)
    #: complete images accepted in this batch (pixels when opened here), for an imaging pipeline
    images: list[ImageArrival] = field(default_factory=list)
    #: messages of the batch taken (not dead-lettered, not ignored): each imaging chunk counts, although
    #: only a complete image becomes a record
    accepted: int = 0


class EdgeProcessor:
    """Decoding, sequence accounting, the pipelines of the configured models and inference."""

    def __init__(self, config: EdgeConfig, registry: ModelRegistry | None = None,
                 keys: envelope.KeyLookup | None = None) -> None:
        self.config = config
        self.events = EventFactory(config.site, config.node_id)
        self.quality = QualityTracker(config.site, config.node_id)
        self.sequences = SequenceTracker()
        self.counters = EdgeCounters()
        self.rejections: dict[str, int] = {}
        self.registry = registry or ModelRegistry(config.models_dir, config.models)
        self.pipelines: list[Pipeline[Any]] = build_pipelines(
            PipelineContext(config, self.events, self.quality, self._model_version))
        #: the last valid descriptor of each device that declared one (:mod:`iomt.wire.descriptor`)
        self.descriptors: dict[str, DeviceDescriptor] = {}
        self._described = [p for p in self.pipelines if isinstance(p, DescriptorAware)]
        self.images = ImageIngest(keys if keys is not None else (lambda _device, _key_id: None),
                                  allow_unencrypted=config.allow_unencrypted_images)
        self._topics: dict[str, topics.Topic] = {}
        self._by_stream: dict[str, list[Pipeline[Any]]] = {}
        self._by_reading_stream: dict[str, list[ReadingPipeline[Any]]] = {}
        for pipeline in self.pipelines:
            for stream in pipeline.streams:
                self._by_stream.setdefault(stream, []).append(pipeline)
            if isinstance(pipeline, ReadingPipeline):
                for stream in pipeline.reading_streams:
                    self._by_reading_stream.setdefault(stream, []).append(pipeline)
        self.engine = InferenceEngine(self.registry, self.pipelines, config.batched_inference)
        self.imaging = build_imaging(config)

    def _model_version(self, name: str) -> str | None:
        runner = self.registry.current(name)
        return runner.version if runner is not None else None

    @property
    def images_pending(self) -> int:
        """Images waiting for the imaging model (a cycle with no messages still analyses them)."""
        return self.imaging.pending if self.imaging is not None else 0

    def handle(self, topic: str, payload: bytes) -> tuple[list[UplinkRecord], list[Event], bytes | None]:
        """One message on its own (tests, tools): records, events and the dead letter if rejected."""
        result = self.handle_batch([(topic, payload, time.monotonic_ns())])
        return result.records, result.events, (result.deadletters[0] if result.deadletters else None)

    def handle_batch(self, messages: list[tuple[str, bytes, int]]) -> BatchResult:
        """``(topic, payload, arrival_ns)`` messages, then one inference cycle."""
        result = BatchResult(time.monotonic_ns())
        refused = self.counters.dead_letter + self.counters.ignored
        for topic, payload, arrival_ns in messages:
            try:
                self._decode(topic, payload, arrival_ns, result)
            except Exception as exc:  # one message never costs the others of its batch
                self.counters.failed += 1
                log.exception("edge failed on a message on %s; dead-lettered, the batch goes on", topic[:200])
                self._reject(topic, "processing", f"the edge failed on it ({type(exc).__name__}: {exc})"[:300],
                             payload, result)
        result.accepted = len(messages) - (self.counters.dead_letter + self.counters.ignored - refused)
        if self.images.waiting:
            opened, _refused = self.images.ready()  # keys that arrived: open the waiting images for analysis
            result.images.extend(opened)
            now = time.monotonic_ns()
            for arrival in opened:
                self._analyse(arrival, now)
        try:
            events, result.inferred = self.engine.cycle()
        except Exception:  # the records are durable either way; a cycle that fails must not block them
            self.counters.failed_cycles += 1
            log.exception("edge inference cycle failed; the batch's records are forwarded without its events")
            events = []
        result.events.extend(events)
        if self.imaging is not None and self.imaging.pending:
            try:
                stats = self.engine.stats.setdefault(ModelName.IMAGING, ModelStats())
                image_events, analysed = self.imaging.run(self.registry.current(ModelName.IMAGING), stats)
            except Exception:  # as above: an image the model fails on costs neither the records nor the others
                self.counters.failed_cycles += 1
                log.exception("edge imaging cycle failed; the batch's records are forwarded without its events")
            else:
                result.events.extend(image_events)
                if analysed is not None:
                    result.inferred.append(analysed)
        result.event_payloads = [encode_event(event) for event in result.events]
        result.records.extend(UplinkRecord(RecordKind.EVENT, payload) for payload in result.event_payloads)
        self.counters.events += len(result.events)
        return result

    def _reject(self, topic: str, field_name: str, reason: str, payload: bytes, result: BatchResult) -> None:
        self.counters.dead_letter += 1
        self.rejections[field_name] = self.rejections.get(field_name, 0) + 1
        letter = make_deadletter(topic, field_name, reason, self.config.node_id, time.time_ns() // 1000, payload)
        if self._is_image_topic(topic):  # an image's dead letter keeps its chunk header, never pixels
            letter = make_deadletter(topic, field_name, reason, self.config.node_id, letter.t_us,
                                     payload[:CHUNK_HEADER.size])
            letter = dataclasses.replace(letter, payload_len=len(payload))
        result.deadletters.append(encode_deadletter(letter))

    def _is_image_topic(self, topic: str) -> bool:
        parsed = self._topics.get(topic)
        if parsed is None:
            try:
                parsed = topics.parse_topic(topic)
            except DecodeError:
                return False
        return parsed.name in CHUNKED_STREAMS

    def _analyse(self, arrival: ImageArrival, arrival_ns: int) -> None:
        if self.imaging is not None and arrival.image is not None:
            self.imaging.submit(arrival.device, arrival.image, arrival_ns)

    def _image_chunk(self, topic: topics.Topic, payload: bytes, arrival_ns: int, result: BatchResult) -> None:
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
            self._analyse(arrival, arrival_ns)

    def _descriptor(self, topic: topics.Topic, payload: bytes, result: BatchResult) -> None:
        """A device's retained descriptor (raises DecodeError naming the field: the last valid one stays).
        An empty payload withdraws it. A new or changed one goes to the pipelines that use it and, as a
        ``descriptor`` event, to the gateway; the same one again (a redelivered retained message) is
        only counted as received."""
        assert topic.device is not None
        descriptor = decode_descriptor(payload) if payload else None
        if self.descriptors.get(topic.device) == descriptor:
            return
        if descriptor is None:
            del self.descriptors[topic.device]
        else:
            self.descriptors[topic.device] = descriptor
        self.counters.descriptors += 1
        for pipeline in self._described:
            pipeline.on_descriptor(topic.device, descriptor)
        result.events.append(self.events.descriptor(topic.device, descriptor, time.time_ns() // 1000))

    def _decode(self, topic: str, payload: bytes, arrival_ns: int, result: BatchResult) -> None:
        self.counters.messages += 1
        parsed: topics.Topic | None = None
        try:
            parsed = self._topics.get(topic)
            if parsed is None:
                parsed = topics.parse_topic(topic)
                if len(self._topics) < MAX_CACHED_TOPICS:
                    self._topics[topic] = parsed
            if parsed.kind is topics.TopicKind.DESCRIPTOR:
                self._descriptor(parsed, payload, result)
                return
            if parsed.kind is not topics.TopicKind.DATA:
                # The data filter also matches system topics (our own dead letters, model manifests):
                # they are not data, and rejecting them would feed the dead-letter topic to itself.
                self.counters.ignored += 1
                return
            if parsed.name in CHUNKED_STREAMS:
                self._image_chunk(parsed, payload, arrival_ns, result)
                return
            message = decode_payload(
                payload, device=parsed.device, stream=parsed.name, max_bytes=self.config.max_payload_bytes
            )
        except DecodeError as exc:
            self._reject(topic, exc.field, exc.reason, payload, result)
            return
        t_us = message.t_us if isinstance(message, Reading) else message.t0_us
        verdict = self.sequences.observe(message.device, message.stream, message.seq, message.boot, t_us)
        if isinstance(message, Reading):
            self.counters.readings += 1
            # forwarded as received: it passed the same decoder the gateway applies
            result.records.append(UplinkRecord(RecordKind.READING, payload))
            if verdict is not Verdict.LATE and verdict is not Verdict.DUPLICATE:
                for reader in self._by_reading_stream.get(message.stream, ()):
                    result.events.extend(reader.on_reading(message, arrival_ns))
            return
        self.counters.frames += 1
        result.records.append(UplinkRecord(RecordKind.FRAME, encode_frame(message)))
        if not verdict.in_order:
            return  # stored (the store de-duplicates), but windows are cut from in-order signal only
        self.counters.analysed += 1
        for pipeline in self._by_stream.get(message.stream, ()):
            if verdict is Verdict.GAP or verdict is Verdict.RESTART:
                pipeline.on_gap(message.device, message.stream)
            result.events.extend(pipeline.on_frame(message, arrival_ns))
