"""Real image files replayed as an imaging device: each image (:mod:`firmware_sim.image_files`) is
published once, ``interval_s`` apart, as the chunked imaging objects a simulated imaging device sends
(:mod:`iomt.wire.chunks`, spacing in the header when the file states it). No masks exist for real
images, so the truth says only which file each image came from (kind ``image_source``)."""

from __future__ import annotations

import numpy as np

from firmware_sim.devices import SimDevice
from firmware_sim.image_files import LoadedImage
from iomt.wire.chunks import DEFAULT_CHUNK_SIZE, Image, encode_image, split


class ImageReplayDevice(SimDevice):
    """Publishes loaded images on the ``image`` stream, one every ``interval_s``."""

    kind = "image_replay"

    def __init__(self, device_id: str, images: list[LoadedImage], interval_s: float = 1.0,
                 chunk_size: int = DEFAULT_CHUNK_SIZE) -> None:
        super().__init__(device_id, np.random.default_rng(0))
        if not images:
            raise ValueError("no images to replay")
        self.images = images
        self.interval_s = interval_s

        def render(seq: int, t0_us: int) -> list[bytes]:
            im = images[seq % len(images)]
            t_s = (t0_us - self.start_us) / 1e6 - self.stagger_s
            self.note("image_source", im.name, t_s, t_s, {
                "seq": seq, "file": im.source.name, "shape": list(im.pixels.shape), "modality": im.modality,
                "spacing_mm": list(im.spacing_mm) if im.spacing_mm else None})
            return split(encode_image(Image(seq, self.stamp(t0_us), im.pixels, im.spacing_mm)), seq, chunk_size)

        self._source("image", 1.0 / interval_s, interval_s, render)

    @property
    def seconds(self) -> float:
        """How long publishing every image once takes."""
        return len(self.images) * self.interval_s
