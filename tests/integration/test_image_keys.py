"""An edge's device keys come from a real gateway (its uplink token, its own site only); a rotated key is
fetched when an image sealed with it arrives; no key ever reaches a log."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from edge.config import EdgeConfig
from edge.device_keys import DeviceKeyClient, EdgeKeyRing, KeyFetchError
from edge.processor import EdgeProcessor
from gateway.config import GatewayConfig
from gateway.server import running_gateway
from iomt.wire import topics
from iomt.wire.chunks import Image, split
from iomt.wire.sealed_image import SealedImage, seal_image
from iomt.wire.uplink import RecordKind
from tests.gateway.imaging_helpers import DEVICE, enrolled_registry


def sealed_chunks(seq: int, key_id: int, key: bytes) -> list[bytes]:
    pixels = np.full((32, 32), seq, np.uint8)
    return split(seal_image(SealedImage(Image(seq, 1_764_000_000_000_000 + seq, pixels)), key, device=DEVICE,
                            key_id=key_id), seq, 500)


def wait_until(condition: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


async def test_the_edge_fetches_its_sites_keys_and_a_rotated_one_on_demand(tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    enrolled = enrolled_registry(tmp_path / "registry", other_site=("far-away",))
    config = GatewayConfig(port=0, db_path=tmp_path / "gw.sqlite", registry=enrolled.config)
    async with running_gateway(config) as gw:
        bad = DeviceKeyClient(gw.url, "edge-1.not-the-token")
        try:
            await asyncio.to_thread(bad.fetch)
            raise AssertionError("a wrong token was accepted")
        except KeyFetchError as exc:
            assert "401" in str(exc)
        ring = EdgeKeyRing(DeviceKeyClient(gw.url, enrolled.edge_token))
        ring.start()
        processor = EdgeProcessor(EdgeConfig(models=()), keys=ring)
        topic = topics.data("default", DEVICE, "image")

        async def opened_once_the_key_came(seq: int, key_id: int, key: bytes) -> Image:
            # the first image of a key the edge does not hold goes on sealed at once, and is opened for
            # analysis in a later cycle, once the background thread fetched the key
            result = processor.handle_batch([(topic, c, 0) for c in sealed_chunks(seq, key_id, key)])
            assert [r.kind for r in result.records] == [RecordKind.IMAGE] and not result.deadletters
            assert result.images[0].image is None
            opened: list = []

            def poll() -> bool:
                opened.extend(processor.handle_batch([]).images)
                return bool(opened)

            assert await asyncio.to_thread(wait_until, poll, 20.0)
            return opened[0].image  # type: ignore[no-any-return]

        try:
            first = await opened_once_the_key_came(1, *enrolled.keys[DEVICE])
            assert int(first.pixels[0, 0]) == 1 and ring(DEVICE, 1) == enrolled.keys[DEVICE][1] and len(ring) == 1
            # the next image with that key opens at once
            result = processor.handle_batch([(topic, c, 0) for c in sealed_chunks(2, *enrolled.keys[DEVICE])])
            assert result.images[0].image is not None
            # the device gets a new key; its next image names key 2, which the edge fetches by itself
            rotated = enrolled.registry.rotate(DEVICE, new_device_key=True).device_key
            assert rotated is not None
            third = await opened_once_the_key_came(3, 2, rotated.key)
            assert int(third.pixels[0, 0]) == 3
            # a device of another site: the gateway refuses, the edge keeps forwarding its images sealed
            assert ring("far-away", 1) is None
            await asyncio.to_thread(time.sleep, 0.5)
            assert ring("far-away", 1) is None and ring.failures >= 1
        finally:
            ring.stop()
    secrets_ = [enrolled.keys[DEVICE][1], enrolled.keys["far-away"][1], rotated.key]
    for key in secrets_:
        assert key.hex() not in caplog.text
    assert enrolled.edge_token.split(".", 1)[1] not in caplog.text
    assert "DeviceKeyClient(http://127.0.0.1" in repr(ring.client)
