"""Real ultrasound (pydicom's test files, and itk-pocus' when fetched) through ``iomt replay --kind image``,
a real mosquitto, the edge's reassembly and validation, and the edge's imaging stage with the released
int8 model: every image gives one well-formed event. No masks exist for these images, so nothing is
said about the findings' accuracy."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest

from edge.imaging_pipeline import ImagingPipeline
from firmware_sim.image_files import load_images, real_ultrasound_sources
from iomt.config import MqttConfig
from iomt.transport import ReceivedMessage
from iomt.transport.mqtt import MqttBus
from iomt.wire import topics
from iomt.wire.chunks import Reassembler, decode_image
from iomt.wire.events import decode_event, encode_event
from iomt.wire.masks import decode_rle
from iomt_app.cli import main
from models.runtime import ModelRunner

pytest.importorskip("pydicom", reason="pydicom is in the sim extra")


def test_real_ultrasound_replayed_through_mosquitto_and_the_edge_imaging_stage(tmp_path: Path,
                                                                              mqtt_config: MqttConfig) -> None:
    folder = tmp_path / "real"
    folder.mkdir()
    for source in real_ultrasound_sources():
        for f in ([source] if source.is_file() else sorted(source.iterdir())):
            shutil.copy(f, folder / f.name)
    expected = load_images(folder)
    assert len(expected) >= 5
    received: list[ReceivedMessage] = []
    lock = threading.Lock()

    def keep(msg: ReceivedMessage) -> None:
        with lock:
            received.append(msg)

    listener = MqttBus(mqtt_config, client_id="real-images-edge").start()
    try:
        listener.subscribe("iomt/v1/real-us/+/image", keep)
        time.sleep(0.3)
        assert main(["replay", str(folder), "--kind", "image", "--broker", mqtt_config.url, "--site", "real-us",
                     "--device", "us-real", "--fast", "--chunk-size", "16384"]) == 0
        assembler, images = Reassembler(), []
        deadline, seen = time.monotonic() + 20, 0
        while time.monotonic() < deadline and len(images) < len(expected):
            with lock:
                batch, seen = received[seen:], len(received)
            for msg in batch:
                obj = assembler.add(topics.parse_topic(msg.topic).device or "", msg.payload)
                if obj is not None:
                    images.append(decode_image(obj))
            time.sleep(0.05)
    finally:
        listener.stop()
    assert len(images) == len(expected)
    stage = ImagingPipeline("real-us", "edge-it", per_cycle=len(images), budget_ms=1e9)
    for image in images:
        stage.submit("us-real", image, arrival_ns=0)
    events = [event for event, _ in stage.cycle(ModelRunner.released("imaging"))]
    assert len(events) == len(images) and stage.dropped == 0
    for event, image in zip(events, images, strict=True):
        assert decode_event(encode_event(event)) == event
        assert event.detail["shape"] == list(image.pixels.shape) and event.label in ("lesion", "no_lesion")
        if event.detail["mask_rle"] is not None:
            assert decode_rle(event.detail["mask_rle"], event.detail["shape"]).sum() == event.detail["area_px"]
