"""A fleet run through a real mosquitto: every frame, image and truth event arrives and decodes."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from firmware_sim.fleet import Fleet
from firmware_sim.imaging import rle_mask
from firmware_sim.scenario import Scenario, build_devices
from firmware_sim.truth import TruthSink, decode_truth
from iomt.config import MqttConfig
from iomt.transport import ReceivedMessage
from iomt.transport.mqtt import MqttBus
from iomt.wire import topics
from iomt.wire.chunks import Reassembler, decode_image
from iomt.wire.descriptor import decode_descriptor
from iomt.wire.frames import Frame, Reading, decode_payload


def test_fleet_publishes_frames_images_and_truth_through_mosquitto(mqtt_config: MqttConfig, tmp_path: Path) -> None:
    site = "fleet-test"
    scenario = Scenario.model_validate({
        "site": site, "seed": 3,
        "patients": [{"count": 2, "condition": "pvc"},
                     {"count": 1, "devices": ["emotion_band", "motion", "vitals"], "emotion_cycle_s": 40}],
        "imaging": [{"id": "xr-1", "modality": "xray", "interval_s": 0.5, "size": 64, "chunk_size": 1024}],
    })
    devices = build_devices(scenario)
    received: list[ReceivedMessage] = []
    lock = threading.Lock()

    def keep(msg: ReceivedMessage) -> None:
        with lock:
            received.append(msg)

    listener = MqttBus(mqtt_config, client_id="fleet-test-listener").start()
    publisher = MqttBus(mqtt_config, client_id="fleet-test-publisher").start()
    try:
        listener.subscribe(f"iomt/v1/{site}/#", keep)
        time.sleep(0.3)
        truth_file = tmp_path / "truth.jsonl"
        sink = TruthSink(publisher, site, truth_file)
        fleet = Fleet(publisher, site, [s for d in devices for s in d.sources], qos=1, truth=sink)
        report = fleet.run(3.0)
        sink.close()
        expected = report.published + sink.published + len(fleet.descriptors)  # one per motion wearer
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(received) < expected:
            time.sleep(0.05)
    finally:
        listener.stop()
        publisher.stop()

    summary = report.as_dict()
    assert summary["late_frames"] == 0
    assert len(received) == expected
    seqs: dict[str, set[int]] = {}
    images = Reassembler()
    decoded_images = []
    truth = []
    for msg in received:
        topic = topics.parse_topic(msg.topic)
        assert topic.device is not None
        if topic.kind is topics.TopicKind.TRUTH:
            truth.extend(decode_truth(msg.payload))
        elif topic.kind is topics.TopicKind.DESCRIPTOR:
            assert decode_descriptor(msg.payload).placement == "waist"
        elif topic.name == "image":
            obj = images.add(topic.device, msg.payload)
            if obj is not None:
                decoded_images.append(decode_image(obj))
        else:
            item = decode_payload(msg.payload, device=topic.device, stream=topic.name)
            assert isinstance(item, Frame | Reading)
            seqs.setdefault(f"{item.device}/{item.stream}", set()).add(item.seq)
            if isinstance(item, Frame):
                assert np.isfinite(item.values()).all()
    streams = report.streams
    assert {"patient-0001/ecg", "patient-0001/acc", "patient-0001/gyro", "patient-0001/vitals", "patient-0003/eda",
            "patient-0003/ppg", "patient-0003/resp", "xr-1/image"} <= set(streams)
    for key, count in streams.items():
        if key != "xr-1/image":
            assert seqs[key] == set(range(count)), key
    assert streams["patient-0001/ecg"] == 6 and streams["patient-0003/eda"] == 2  # 1 s frames, staggered 0.25 s
    assert [im.seq for im in sorted(decoded_images, key=lambda im: im.seq)] == list(range(streams["xr-1/image"]))

    lesions = {e.extra["seq"]: e for e in truth if e.kind == "lesion"}
    assert set(lesions) == {im.seq for im in decoded_images}
    for im in decoded_images:
        mask = rle_mask(lesions[im.seq].extra["mask_rle"], im.pixels.shape)
        assert (lesions[im.seq].label == "lesion") == bool(mask.any())
        assert im.spacing_mm is not None and list(im.spacing_mm) == pytest.approx(lesions[im.seq].extra["spacing_mm"])
    beats = [e for e in truth if e.kind == "beat" and e.device == "patient-0001"]
    assert 2 <= len(beats) <= 12 and {e.label for e in beats} <= {"N", "S", "V", "F", "Q"}
    start_us = summary["started_us"]
    assert isinstance(start_us, int)
    assert all(start_us <= e.t_us <= start_us + 3_500_000 for e in beats)
    assert any(e.kind == "emotion" for e in truth) and any(e.kind == "activity" for e in truth)
    lines = [json.loads(line) for line in truth_file.read_text().splitlines()]
    assert len(lines) == len(truth) == report.truth_events
