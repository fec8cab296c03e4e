"""The image viewer in real headless Chromium against a real gateway and image store, fed with uplink
batches as the edge sends them (sealed images forwarded unopened, the edge's lesion events).

Checked on the canvas's pixels: the image decrypted and drawn, the model's mask filled over it and the
ground truth outlined, each switched off and on by its toggle; the scale bar from the spacing; the
finding's area, confidence and model version."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import numpy as np
import pytest
from selenium.webdriver.common.by import By

from gateway.auth import Role
from gateway.config import GatewayConfig
from gateway.server import running_gateway
from iomt.wire.uplink import CONTENT_TYPE
from tests.gateway.auth_helpers import PASSWORD, Keys, bearer
from tests.gateway.browser import chromium, sign_in
from tests.gateway.imaging_helpers import (
    DEVICE,
    PATIENT,
    SPACING,
    enrolled_registry,
    image_batch,
    lesion_event,
    sealed_image,
)

pytestmark = pytest.mark.slow
SCALE = 2  # the panel draws each image pixel as 2x2 screen pixels


async def wait_js(driver, script: str, timeout_s: float, what: str) -> object:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = await asyncio.to_thread(driver.execute_script, script)
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def pixel(driver, image_id: str, x: int, y: int) -> list[int]:
    return driver.execute_script(  # type: ignore[no-any-return]
        "const c = document.querySelector(`[data-image-id='${arguments[0]}'] canvas`);"
        "return Array.from(c.getContext('2d').getImageData(arguments[1], arguments[2], 1, 1).data);",
        image_id, x, y)


def boundary(mask: np.ndarray) -> tuple[int, int]:
    """(x, y) of a mask pixel on its edge (a 4-neighbour outside)."""
    inner = mask.copy()
    inner[1:-1, 1:-1] &= mask[:-2, 1:-1] & mask[2:, 1:-1] & mask[1:-1, :-2] & mask[1:-1, 2:]
    ys, xs = np.nonzero(mask & ~inner)
    return int(xs[0]), int(ys[0])


async def test_images_with_predicted_and_true_masks_toggles_scale_bar_and_finding(tmp_path: Path) -> None:
    enrolled = enrolled_registry(tmp_path / "registry")
    key = enrolled.keys[DEVICE]
    config = GatewayConfig(port=0, db_path=tmp_path / "gw.sqlite", registry=enrolled.config)
    analysed, image1, mask1 = sealed_image(1, key)
    unanalysed, _, _ = sealed_image(2, key, truth=False)
    async with running_gateway(config) as gw, aiohttp.ClientSession() as http:
        keys = Keys(gw)
        viewer = keys.user("viewer-vic", Role.VIEWER)
        body = image_batch([analysed, unanalysed], [lesion_event(DEVICE, image1, mask1, version="1.2.0")])
        async with http.post(f"{gw.url}/api/v1/uplink", data=body,
                             headers={"Content-Type": CONTENT_TYPE, **bearer(enrolled.edge_token)}) as r:
            assert r.status == 200
        async with http.get(f"{gw.url}/api/v1/patients/{PATIENT}/images", headers=viewer) as r:
            ids = {i["seq"]: i["image_id"] for i in (await r.json())["images"]}
        with chromium() as driver:
            page = f"{gw.url}/static/images.html?patient={PATIENT}"
            # not signed in: the page's first API answer is 401, and the page sends the browser to sign in
            await asyncio.to_thread(driver.get, page)
            await wait_js(driver, "return location.pathname === '/login'", 20, "the sign-in page")
            await asyncio.to_thread(sign_in, driver, gw.url, "viewer-vic", PASSWORD)
            await asyncio.to_thread(driver.get, page)
            await wait_js(driver, "return document.querySelectorAll('.image-card[data-loaded]').length === 2", 20,
                          "both images drawn")
            cards = await asyncio.to_thread(driver.find_elements, By.CSS_SELECTOR, ".image-card")
            assert [c.get_attribute("data-image-id") for c in cards] == [ids[2], ids[1]]  # newest first
            first = await asyncio.to_thread(driver.find_element, By.CSS_SELECTOR, f"[data-image-id='{ids[1]}']")
            assert first.get_attribute("data-layers") == "ground_truth,predicted"
            assert first.get_attribute("data-shown") == "ground_truth,predicted"
            area_mm2 = mask1.sum() * SPACING[0] * SPACING[1]
            text = first.find_element(By.CSS_SELECTOR, ".finding").text
            assert f"{area_mm2:.1f} mm²" in text and "confidence 87 %" in text and "model imaging 1.2.0" in text
            # 64 px at 0.3125 mm = 20 mm wide: a 5 mm bar, 5 / 0.3125 = 16 image pixels = 32 on screen
            assert first.get_attribute("data-scale-mm") == "5" and first.get_attribute("data-scale-px") == "32.00"
            second = cards[0]
            assert second.get_attribute("data-layers") == "" and "not analysed" in second.find_element(
                By.CSS_SELECTOR, ".finding").text

            inside_x, inside_y = 35 * SCALE + 1, 25 * SCALE + 1  # the disc's centre (a filled pixel)
            assert mask1[25, 35]
            edge_x, edge_y = boundary(mask1)
            gray = int(image1.pixels[25, 35])
            filled = pixel(driver, ids[1], inside_x, inside_y)
            assert filled[0] > filled[2] + 40, filled  # orange-red tint of the model's mask
            outline = pixel(driver, ids[1], edge_x * SCALE, edge_y * SCALE)
            assert outline[:3] == [61, 214, 140], outline  # ground truth outline drawn last, on top
            # switch the prediction off: the lesion's centre shows the image itself
            await asyncio.to_thread(driver.find_element(By.CSS_SELECTOR, "input[data-layer='predicted']").click)
            assert first.get_attribute("data-shown") == "ground_truth"
            assert pixel(driver, ids[1], inside_x, inside_y)[:3] == [gray, gray, gray]
            # and the ground truth off too: its outline is gone
            await asyncio.to_thread(driver.find_element(By.CSS_SELECTOR, "input[data-layer='ground_truth']").click)
            assert first.get_attribute("data-shown") == ""
            bare = pixel(driver, ids[1], edge_x * SCALE, edge_y * SCALE)
            value = int(image1.pixels[edge_y, edge_x])
            assert bare[:3] == [value, value, value]
            # both back on
            for layer in ("predicted", "ground_truth"):
                await asyncio.to_thread(driver.find_element(By.CSS_SELECTOR, f"input[data-layer='{layer}']").click)
            assert first.get_attribute("data-shown") == "ground_truth,predicted"
            assert pixel(driver, ids[1], inside_x, inside_y) == filled
