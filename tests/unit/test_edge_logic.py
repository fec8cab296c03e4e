"""Pure logic of the edge: sequence accounting, heart rate, the outbox and message handling."""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import pytest

from edge.config import EdgeConfig
from edge.outbox import Outbox
from edge.processor import EdgeProcessor
from edge.sequence import SequenceTracker, Verdict
from firmware_sim.ecg import EcgSynth
from iomt.wire import topics
from iomt.wire.deadletter import decode_deadletter
from iomt.wire.frames import encode_frame, make_frame
from iomt.wire.uplink import RecordKind, UplinkRecord
from models.preprocessing.ecg import heart_rate_bpm


def test_sequence_tracker_tells_gaps_late_and_duplicates_apart() -> None:
    tracker = SequenceTracker()
    verdicts = [tracker.observe("d", "ecg", s) for s in [0, 1, 2, 5, 3, 3, 6, 4, 1]]
    assert verdicts == ["ok", "ok", "ok", "gap", "late", "duplicate", "ok", "late", "duplicate"]
    assert verdicts[:4] == [Verdict.OK, Verdict.OK, Verdict.OK, Verdict.GAP] and all(
        isinstance(v, Verdict) for v in verdicts)
    totals = tracker.totals()
    assert totals == {"received": 9, "missing": 0, "duplicates": 2, "reordered": 2, "restarts": 0, "jumps": 0}
    tracker.observe("d", "ecg", 10)
    assert tracker.totals()["missing"] == 3
    for seq in [0, 2, 2, 1]:
        tracker.observe("e", "acc", seq)
    per_stream = tracker.streams.values()
    assert tracker.totals() == {
        "received": sum(c.received for c in per_stream), "missing": sum(c.missing for c in per_stream),
        "duplicates": sum(c.duplicates for c in per_stream), "reordered": sum(c.reordered for c in per_stream),
        "restarts": 0, "jumps": 0,
    } == {"received": 14, "missing": 3, "duplicates": 3, "reordered": 3, "restarts": 0, "jumps": 0}


@pytest.mark.parametrize("bpm", [48.0, 72.0, 110.0, 160.0])
def test_heart_rate_matches_the_simulated_rate(bpm: float) -> None:
    synth = EcgSynth(250.0, bpm, np.random.default_rng(1), hrv=0.02)
    estimate = heart_rate_bpm(synth.render(250 * 10), 250.0)
    assert estimate is not None
    assert estimate[0] == pytest.approx(bpm, abs=max(2.0, 0.03 * bpm))


def test_heart_rate_refuses_a_flat_line_and_noise() -> None:
    assert heart_rate_bpm(np.zeros(2500), 250.0) is None
    assert heart_rate_bpm(np.zeros(100), 250.0) is None


def test_outbox_survives_reopen_and_deletes_only_what_it_is_told(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    box = Outbox(path)
    box.append([UplinkRecord(RecordKind.FRAME, bytes([i])) for i in range(5)])
    first = box.peek(3)
    box.delete([row_id for row_id, _ in first[:2]])
    box.close()
    reopened = Outbox(path)
    remaining = [record.payload for _, record in reopened.peek(10)]
    assert remaining == [bytes([2]), bytes([3]), bytes([4])]
    assert reopened.depth() == 3


def test_processor_forwards_frames_emits_heart_rate_and_dead_letters_garbage() -> None:
    config = EdgeConfig(ecg_window_s=6.0, hr_interval_s=1.0, models=("ecg",))  # heart rate comes with it
    processor = EdgeProcessor(config)
    synth = EcgSynth(250.0, 75.0, np.random.default_rng(3))
    topic = topics.data("default", "p1", "ecg")
    events = []
    t0 = 1_764_000_000_000_000
    for seq in range(16):
        raw = np.round(synth.render(125) / 0.001).astype(np.int16)
        payload = encode_frame(make_frame("p1", "ecg", seq, t0 + seq * 500_000, 250.0, raw, 0.001))
        records, new_events, dead = processor.handle(topic, payload)
        assert dead is None and records[0].kind is RecordKind.FRAME and records[0].payload == payload
        events.extend(new_events)
    heart_rate = [e for e in events if e.model == "heart_rate"]
    assert heart_rate, "no heart-rate event after 8 s of ECG"
    assert all(e.value == pytest.approx(75.0, abs=3) for e in heart_rate)
    records, new_events, dead = processor.handle(topic, b"IM\x01garbage")
    assert records == [] and new_events == [] and dead is not None
    letter = decode_deadletter(dead)
    assert letter.field == "header"
    assert letter.topic == topic
    assert processor.counters.dead_letter == 1 and processor.rejections == {"header": 1}


def test_processor_ignores_system_topics_instead_of_dead_lettering_them() -> None:
    processor = EdgeProcessor(EdgeConfig(models=()))
    for topic in (topics.deadletter("default", "edge-1"), topics.model_manifest("default", "ecg")):
        assert processor.handle(topic, b"{}") == ([], [], None)
    assert processor.counters.ignored == 2 and processor.counters.dead_letter == 0


def test_imaging_chunks_are_reassembled_opened_and_forwarded_sealed() -> None:
    from iomt.wire.chunks import Image, split
    from iomt.wire.sealed_image import SealedImage, seal_image

    key = bytes(range(32))
    processor = EdgeProcessor(EdgeConfig(models=()), keys=lambda d, k: key if (d, k) == ("us-probe-1", 1) else None)
    topic = topics.data("default", "us-probe-1", "image")
    pixels = np.arange(64 * 64, dtype=np.uint8).reshape(64, 64)
    sealed = seal_image(SealedImage(Image(7, 1_764_000_000_000_000, pixels)), key, device="us-probe-1", key_id=1)
    chunks = split(sealed, object_id=7, chunk_size=1000)
    assert len(chunks) > 1
    records = []
    for chunk in chunks:
        got, _, letter = processor.handle(topic, chunk)
        assert letter is None
        records += got
    assert [(r.kind, r.payload) for r in records] == [(RecordKind.IMAGE, sealed)]  # forwarded as the device sealed it
    assert processor.counters.images == 1 and processor.counters.image_chunks == len(chunks)
    corrupt = split(b"not an image at all" * 10, object_id=8, chunk_size=100)
    results = [processor.handle(topic, c) for c in corrupt]
    letter = decode_deadletter(results[-1][2] or b"")
    assert letter.field == "magic" and processor.counters.dead_letter == 1
    assert letter.payload_len == len(corrupt[-1]) and len(base64.b64decode(letter.payload_head_b64)) == 20


def test_an_image_with_an_impossible_spacing_is_dead_lettered_naming_the_field() -> None:
    import struct

    from iomt.wire.chunks import Image, encode_image, split

    processor = EdgeProcessor(EdgeConfig(models=(), allow_unencrypted_images=True))  # a legacy device's plain image
    topic = topics.data("default", "us-probe-1", "image")
    obj = bytearray(encode_image(Image(1, 1_764_000_000_000_000, np.zeros((8, 8), np.uint8), (0.3, 0.3))))
    struct.pack_into("<ff", obj, 20, 0.3, -2.0)
    (chunk,) = split(bytes(obj), object_id=9)
    letter = decode_deadletter(processor.handle(topic, chunk)[2] or b"")
    assert letter.field == "spacing" and "column spacing -2.0 mm" in letter.reason
    assert processor.counters.images == 0 and processor.counters.dead_letter == 1


def test_the_outbox_leaves_checkpoints_to_the_uplink_thread(tmp_path: Path) -> None:
    """Appends never checkpoint (an fsync inside the worker's commit was a latency spike); the
    uplink thread's checkpoint() copies the whole log into the database."""
    outbox = Outbox(tmp_path / "o.sqlite")
    for _ in range(40):
        outbox.append([UplinkRecord(RecordKind.FRAME, bytes(2000)) for _ in range(100)])
    # an automatic checkpoint at 1,000 pages (4 MB) would have let the log be reused from the start
    assert (tmp_path / "o.sqlite-wal").stat().st_size > 6 * 1024 * 1024
    frames, copied = outbox.checkpoint()
    assert frames > 2000 and copied == frames
    assert outbox.depth() == 4000
    outbox.close()
