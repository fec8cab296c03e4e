"""Real images (pydicom's ultrasound test files, PNG) replayed as the imaging device's chunked frames
through a real mosquitto, and files that cannot be replayed refused with their name."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from firmware_sim.image_files import (
    ImageFileError,
    dicom_spacing,
    load_images,
    real_ultrasound_sources,
)
from iomt.config import MqttConfig
from iomt.transport import ReceivedMessage
from iomt.transport.mqtt import MqttBus
from iomt.wire import topics
from iomt.wire.chunks import Reassembler, decode_image
from iomt_app.cli import main

pydicom = pytest.importorskip("pydicom", reason="pydicom is in the sim extra")


def test_pydicoms_ultrasound_files_load_as_grayscale_with_their_spacing() -> None:
    from pydicom.data import get_testdata_file

    sources = [p for p in real_ultrasound_sources() if p.suffix == ".dcm"]
    assert len(sources) == 5
    loaded = {im.name: im for p in sources for im in load_images(p, max_frames=2)}
    assert set(loaded) >= {"examples_rgb_color", "examples_palette", "examples_jpeg2k", "examples_ybr_color#0",
                           "examples_ybr_color#1"}
    for im in loaded.values():
        assert im.pixels.dtype == np.uint8 and im.pixels.ndim == 2 and im.modality == "US"
        assert im.pixels.std() > 5  # real content, not a blank frame
    assert loaded["examples_jpeg2k"].pixels.shape == (480, 640)
    # Both files' ultrasound regions reach beyond their pixels (the images were resized after the regions
    # were written), so their spacing is unknown rather than wrong.
    ds = pydicom.dcmread(get_testdata_file("examples_ybr_color.dcm"), stop_before_pixels=True)
    assert dicom_spacing(ds, 240, 320) is None and loaded["examples_ybr_color#0"].spacing_mm is None
    assert loaded["examples_palette"].spacing_mm is None


def test_dicom_spacing_from_pixel_spacing_or_a_fitting_tissue_region() -> None:
    from pydicom.dataset import Dataset

    ds = Dataset()
    ds.PixelSpacing = [0.2, 0.25]
    assert dicom_spacing(ds, 100, 100) == (0.2, 0.25)
    ds = Dataset()
    tissue, trace = Dataset(), Dataset()
    for r, units, delta in ((tissue, 3, 0.03), (trace, 4, 0.01)):
        r.PhysicalUnitsXDirection, r.PhysicalUnitsYDirection = units, units if units == 3 else 0
        r.PhysicalDeltaX, r.PhysicalDeltaY = delta, delta
        r.RegionLocationMaxX1, r.RegionLocationMaxY1 = 90, 60
    ds.SequenceOfUltrasoundRegions = [tissue, trace]
    assert dicom_spacing(ds, 80, 100) == pytest.approx((0.3, 0.3))  # cm -> mm; the trace is ignored
    assert dicom_spacing(ds, 50, 100) is None  # the region reaches below the image


def test_a_png_is_read_as_its_luminance(tmp_path: Path) -> None:
    rgb = np.zeros((20, 30, 3), np.uint8)
    rgb[..., 0] = 200
    PILImage.fromarray(rgb).save(tmp_path / "probe.png")
    (im,) = load_images(tmp_path)
    assert im.name == "probe" and im.pixels.shape == (20, 30) and im.spacing_mm is None
    assert abs(int(im.pixels[0, 0]) - round(0.299 * 200)) <= 1


@pytest.mark.parametrize(("name", "content", "expected"), [
    ("broken.dcm", b"not a dicom file at all", "broken.dcm: cannot read its DICOM pixel data"),
    ("broken.png", b"\x89PNG nope", "broken.png: not a readable image"),
])
def test_unreadable_images_are_refused_naming_the_file(tmp_path: Path, name: str, content: bytes,
                                                        expected: str) -> None:
    (tmp_path / name).write_bytes(content)
    with pytest.raises(ImageFileError, match=expected):
        load_images(tmp_path / name)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImageFileError, match="no image files"):
        load_images(tmp_path / "empty")


def test_iomt_replay_image_publishes_real_ultrasound_as_chunked_frames(tmp_path: Path,
                                                                      mqtt_config: MqttConfig) -> None:
    from pydicom.data import get_testdata_file

    folder = tmp_path / "us"
    folder.mkdir()
    for name in ("examples_palette.dcm", "examples_jpeg2k.dcm"):
        (folder / name).write_bytes(Path(get_testdata_file(name)).read_bytes())
    expected = load_images(folder)
    received: list[ReceivedMessage] = []
    lock = threading.Lock()

    def keep(msg: ReceivedMessage) -> None:
        with lock:
            received.append(msg)

    listener = MqttBus(mqtt_config, client_id="image-replay-listener").start()
    try:
        listener.subscribe("iomt/v1/image-replay/#", keep)
        time.sleep(0.3)
        code = main(["replay", str(folder), "--kind", "image", "--broker", mqtt_config.url, "--site", "image-replay",
                     "--device", "us-real", "--fast", "--chunk-size", "2048"])
        assert code == 0
        deadline = time.monotonic() + 10
        images = []
        assembler = Reassembler()
        seen = 0
        while time.monotonic() < deadline and len(images) < len(expected):
            with lock:
                batch, seen = received[seen:], len(received)
            for msg in batch:
                topic = topics.parse_topic(msg.topic)
                if topic.name == "image":
                    assert topic.device == "us-real"
                    obj = assembler.add(topic.device, msg.payload)
                    if obj is not None:
                        images.append(decode_image(obj))
            time.sleep(0.05)
    finally:
        listener.stop()
    assert [im.seq for im in images] == list(range(len(expected)))
    for got, want in zip(sorted(images, key=lambda im: im.seq), expected, strict=True):
        np.testing.assert_array_equal(got.pixels, want.pixels)
        assert got.spacing_mm == want.spacing_mm


def test_iomt_replay_image_reports_an_unreadable_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"garbage")
    assert main(["replay", str(bad), "--kind", "image", "--broker", "mqtt://127.0.0.1:1"]) == 2
    assert "bad.jpg: not a readable image" in capsys.readouterr().err
