"""The dashboard in real headless Chromium against a running gateway fed the way an edge feeds it; the
browser signs in through the login page first, as a person would."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import numpy as np
import pytest
from selenium.webdriver.common.by import By

from gateway.auth import Role
from gateway.config import GatewayConfig
from gateway.server import RunningGateway, running_gateway
from gateway.store.records import AlertQuery
from iomt.wire.frames import make_frame
from tests.gateway.auth_helpers import PASSWORD, Keys
from tests.gateway.browser import chromium
from tests.gateway.browser import sign_in as browser_sign_in
from tests.gateway.helpers import event, fall_alert, uplink_body

pytestmark = pytest.mark.slow
PATIENTS = [f"bed-{i:02d}" for i in range(1, 7)]


async def post(http: aiohttp.ClientSession, keys: Keys, body: bytes) -> None:
    async with http.post(f"{keys.gw.url}/api/v1/uplink", data=body, headers=keys.edge("edge-ward1")) as r:
        assert r.status == 200, await r.text()


async def feed(http: aiohttp.ClientSession, keys: Keys, patients: list[str], stop: asyncio.Event) -> None:
    """Every 200 ms: 0.2 s of ECG (250 Hz) and motion (50 Hz) per patient; a heart rate each second."""
    seq = 0
    t0 = time.time_ns() // 1000
    while not stop.is_set():
        t = t0 + seq * 200_000
        n = np.arange(50) + seq * 50
        ecg = (np.exp(-(((n % 200) - 20) ** 2) / 8.0) * 1000 + 30 * np.sin(n / 40)).astype(np.int16)
        acc = np.tile(np.array([0, 0, 1000], np.int16), (10, 1)) + np.int16(seq % 7)
        frames = [make_frame(p, "ecg", seq, t, 250.0, ecg, 0.001) for p in patients]
        frames += [make_frame(p, "acc", seq, t, 50.0, acc, 0.001) for p in patients]
        events = [event(p, t, value=70.0 + i, node="edge-ward1") for i, p in enumerate(patients)] \
            if seq % 5 == 0 else []
        await post(http, keys, uplink_body(frames=frames, events=events))
        seq += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.2)


@pytest.fixture
async def fed_gateway(tmp_path: Path) -> AsyncIterator[tuple[RunningGateway, aiohttp.ClientSession, Keys]]:
    async with running_gateway(GatewayConfig(port=0, db_path=tmp_path / "gw.sqlite")) as gw, \
            aiohttp.ClientSession() as http:
        keys = Keys(gw)
        stop = asyncio.Event()
        feeder = asyncio.ensure_future(feed(http, keys, PATIENTS, stop))
        try:
            yield gw, http, keys
        finally:
            stop.set()
            await feeder


async def wait_js(driver, script: str, timeout_s: float, what: str) -> object:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = await asyncio.to_thread(driver.execute_script, script)
        if value:
            return value
        await asyncio.sleep(0.05)
    shot = await asyncio.to_thread(driver.get_screenshot_as_base64)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what} (screenshot base64 len {len(shot)})")


async def sign_in(driver, keys: Keys, name: str, role: Role) -> None:
    """Open the dashboard: the gateway sends the browser to the login page; sign in there and come back."""
    keys.user(name, role)
    await asyncio.to_thread(driver.get, keys.gw.url)
    await wait_js(driver, "return location.pathname === '/login' && document.getElementById('username') !== null",
                  10, "the login page (the dashboard needs a session)")
    assert await asyncio.to_thread(driver.execute_script,
                                   "return new URLSearchParams(location.search).get('next')") == "/"
    await asyncio.to_thread(driver.execute_script, f"""
        document.getElementById('username').value = {name!r};
        document.getElementById('password').value = 'wrong password!';
        document.getElementById('submit').click();""")
    await wait_js(driver, "return document.getElementById('message').textContent.includes('wrong')", 10,
                  "the refusal of a wrong password")
    await asyncio.to_thread(driver.execute_script, f"""
        document.getElementById('password').value = {PASSWORD!r};
        document.getElementById('submit').click();""")
    await wait_js(driver, "return location.pathname === '/' && document.getElementById('grid') !== null", 10,
                  "the dashboard after signing in")
    cookies = await asyncio.to_thread(driver.get_cookies)
    [session] = [c for c in cookies if c["name"] == "iomt_session"]
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    assert await asyncio.to_thread(driver.execute_script, "return document.cookie") == ""  # scripts cannot read it


async def test_live_patients_then_a_fall_alert_appears_and_is_acknowledged_from_the_page(fed_gateway, tmp_path):
    gw, http, keys = fed_gateway
    with chromium() as driver:
        await sign_in(driver, keys, "nurse-ann", Role.CLINICIAN)
        # The grid shows every patient with a live ECG trace and a heart rate from the edge's events.
        await wait_js(driver, f"return document.querySelectorAll('#grid .card').length === {len(PATIENTS)}", 15,
                      "the patient cards")
        waves_before = await wait_js(driver, "return window.iomtStats.waves", 10, "live waveforms")
        await wait_js(driver, f"return window.iomtStats.waves > {waves_before} && window.iomtStats.drawn > 0", 10,
                      "traces drawn from the live feed")
        await wait_js(driver, "return document.querySelector('[data-device=\"bed-01\"] .hr').textContent === '70'",
                      10, "bed-01's heart rate")
        await wait_js(driver, """
            const c = document.querySelector('[data-device="bed-03"] canvas.ecg');
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let lit = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) lit++; return lit > 400;""",
                      10, "an ECG trace drawn across bed-03's canvas")
        await wait_js(driver, "return document.getElementById('who').value === 'nurse-ann'", 5,
                      "the signed-in user in the 'Signed in as' field")

        # An edge reports a fall: it must be on screen within 2 s.
        alert = fall_alert("bed-04", node="edge-ward1")
        selector = f"li.alert[data-event-id='{alert.event_id}']"
        raised = time.monotonic()
        await post(http, keys, uplink_body(events=[alert]))
        await wait_js(driver, f"return document.querySelector(\"{selector}\") !== null", 2.0, "the fall alert")
        shown_after_s = time.monotonic() - raised
        assert shown_after_s < 2.0
        text = await asyncio.to_thread(lambda: driver.find_element(By.CSS_SELECTOR, selector).text)
        assert "HIGH" in text and "fall" in text and "bed-04" in text
        await wait_js(driver, "return document.querySelector('[data-device=\"bed-04\"]').classList"
                      ".contains('alerting')", 5, "bed-04's card flagged")

        # Acknowledge from the page: the acknowledgement, with who and when, is in the store.
        await asyncio.to_thread(lambda: driver.find_element(By.CSS_SELECTOR, f"{selector} button.ack").click())
        await wait_js(driver, f"return document.querySelector(\"{selector}\").dataset.state === 'acknowledged'", 5,
                      "the acknowledged state on the page")
        stored = await asyncio.to_thread(gw.store.alerts, AlertQuery(device="bed-04"))
        assert [(a.state, a.acknowledged_by) for a in stored] == [("acknowledged", "nurse-ann")]
        assert stored[0].acknowledged_us is not None and stored[0].acknowledged_us >= alert.t_us
        await asyncio.to_thread(driver.save_screenshot, str(tmp_path / "dashboard.png"))


async def test_two_hundred_patients_all_shown_and_drawn_when_scrolled_into_view(tmp_path):
    patients = [f"bed-{i:03d}" for i in range(200)]
    async with running_gateway(GatewayConfig(port=0, db_path=tmp_path / "gw.sqlite")) as gw, \
            aiohttp.ClientSession() as http:
        stop = asyncio.Event()
        keys = Keys(gw)
        feeder = asyncio.ensure_future(feed(http, keys, patients, stop))
        try:
            with chromium() as driver:
                keys.user("viewer-vic", Role.VIEWER)
                await asyncio.to_thread(browser_sign_in, driver, gw.url, "viewer-vic", PASSWORD)
                await wait_js(driver, "return document.querySelectorAll('#grid .card').length === 200", 20,
                              "200 patient cards")
                names = await asyncio.to_thread(driver.execute_script,
                                                "return [...document.querySelectorAll('#grid .name')]"
                                                ".map(e => e.textContent)")
                assert names == patients  # sorted like a ward list
                await asyncio.to_thread(driver.execute_script,
                                        "document.querySelector('[data-device=\"bed-199\"]').scrollIntoView()")
                await wait_js(driver, """
                    const c = document.querySelector('[data-device="bed-199"] canvas.ecg');
                    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                    let lit = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) lit++; return lit > 100;""",
                              10, "the last patient's ECG trace")
                await wait_js(driver, "return document.querySelector('[data-device=\"bed-199\"] .hr')"
                              ".textContent !== '—'", 10, "the last patient's heart rate")
        finally:
            stop.set()
            await feeder
