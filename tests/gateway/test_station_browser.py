"""The central station in headless Chromium: real gateway and store, a real edge on mosquitto running the
released models, devices publishing ECG and vitals in real time (vitals on a scripted course per patient).

Set ``IOMT_SCREENSHOT_DIR`` to keep the station and patient-view screenshots (the README's come from here).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from gateway.auth import Role
from gateway.config import StationConfig
from gateway.store.records import AlertQuery
from gateway.vitals.alarms import Category, category_of
from tests.e2e.scripted import scripted_ecg
from tests.gateway import browser
from tests.gateway.auth_helpers import PASSWORD
from tests.gateway.browser import chromium
from tests.gateway.test_dashboard_browser import wait_js
from tests.gateway.ward import KEEPALIVE_S, NORMAL, Ward, ward

pytestmark = pytest.mark.slow
SECONDS = 40.0
BEDS = ["bed-1", "bed-2", "bed-3", "bed-4"]


def deteriorating(t: float) -> Mapping[str, float]:
    """Sepsis-like: fever, tachypnoea, tachycardia, falling blood pressure. NEWS2 0, then 5 (medium), then 10."""
    if t < 8:
        return NORMAL
    if t < 16:  # RR 22 (2), SpO2 95 (1), HR 95 (1), temp 38.6 (1)
        return {**NORMAL, "resp_rate": 22.0, "spo2": 95.0, "hr": 95.0, "temp_c": 38.6}
    # RR 26 (3), SpO2 93 (2), HR 118 (2), SBP 98 (2), temp 39.2 (2)... within the default alarm limits but HR
    return {"resp_rate": 24.0, "spo2": 93.0, "hr": 118.0, "bp_sys": 98.0, "bp_dia": 60.0, "temp_c": 38.4}


def keep(driver, name: str, tmp_path: Path) -> None:
    """A screenshot in the test's directory (and, with IOMT_SCREENSHOT_DIR, a small copy there)."""
    path = tmp_path / f"{name}.png"
    driver.save_screenshot(str(path))
    target = os.environ.get("IOMT_SCREENSHOT_DIR")
    if target:
        from PIL import Image

        Image.open(path).convert("RGB").quantize(colors=96).save(Path(target) / f"{name}.png", optimize=True)


async def js(driver, script: str) -> object:
    return await asyncio.to_thread(driver.execute_script, script)


async def click(driver, selector: str) -> None:
    await asyncio.to_thread(lambda: driver.find_element(By.CSS_SELECTOR, selector).click())


async def sign_in(driver, w: Ward, name: str, role: Role) -> None:
    """Open the station signed in as ``name`` (created with ``role``), through the login page."""
    w.keys.user(name, role)
    await asyncio.to_thread(browser.sign_in, driver, w.gw.url, name, PASSWORD)
    await wait_js(driver, f"return document.getElementById('who').value === {name!r}", 10, "the station, signed in")


async def test_deterioration_reorders_a_breach_escalates_the_patient_view_reviews_and_a_reload_backfills(
        tmp_path, mosquitto):
    station = StationConfig(escalate_after_s=4.0, tick_s=0.5)
    async with ward(tmp_path, mosquitto.url, station) as w:
        for i, device in enumerate(BEDS):
            await w.put(f"/api/v1/patient-registry/{device}", {"bed": str(i + 1), "room": "4B",
                                                       "display_name": f"Patient {'ABCD'[i]}."})
        ecg = [scripted_ecg(d, SECONDS, seed=20 + i, condition="normal") for i, d in enumerate(BEDS)]
        breach = {**NORMAL, "spo2": 96.0}  # NEWS2 0 on scale 1: only the limit set below makes it an alarm
        courses = {"bed-1": lambda t: NORMAL, "bed-2": lambda t: breach if t >= 12 else NORMAL,
                   "bed-3": deteriorating, "bed-4": lambda t: NORMAL}
        started = time.monotonic()
        w.publish(ecg, courses, SECONDS)
        with chromium() as driver:
            await sign_in(driver, w, "nurse-ann", Role.CLINICIAN)
            await wait_js(driver, "return document.querySelectorAll('#grid .card').length === 4", 15, "four tiles")
            order = "return [...document.querySelectorAll('#grid .card')].map(c => c.dataset.device)"
            await wait_js(driver, f"return JSON.stringify({order[7:]}) === JSON.stringify({BEDS})", 10,
                          "tiles in bed order while nobody needs attention")
            await wait_js(driver, "return document.querySelector('[data-device=\"bed-1\"] .name').textContent "
                          "=== 'Patient A.'", 5, "names from the registry")
            # every vital on the tile, labelled traces
            label = await js(driver, "return document.querySelector('[data-device=\"bed-1\"] .t-ecg .tlabel')"
                             ".textContent")
            assert label == "ECG II · 0.5 mV/div · 8 s"
            await wait_js(driver, "return document.querySelector('[data-device=\"bed-1\"] [data-vital=\"spo2\"] .v')"
                          ".textContent === '97'", 10, "SpO2 on the tile")

            # a nurse tightens bed-2's SpO2 limit from the patient view
            await click(driver, '[data-device="bed-2"]')
            await wait_js(driver, "return document.querySelector('#patient-view form.limits input[name=\"spo2.low\"]')"
                          " !== null", 10, "the limits form")
            hidden = ("const b = document.querySelector('#patient-view {}'); "
                      "return b !== null && getComputedStyle(b).display === 'none'")
            await wait_js(driver, hidden.format("form.registry button[type=submit]"), 5,
                          "the registry's save hidden from a clinician (admins edit the registry)")
            assert not await js(driver, hidden.format("form.limits button.save-limits"))  # the limits: clinicians
            await js(driver, "const i = document.querySelector('form.limits input[name=\"spo2.low\"]'); "
                     "i.value = '97';")
            await click(driver, "form.limits button.save-limits")
            await wait_js(driver, "return document.querySelector('.limits-msg').textContent === 'Saved.'", 5,
                          "the limits saved")
            limits = await w.get("/api/v1/patients/bed-2/limits")
            assert limits["limits"]["spo2"]["low"] == 97 and limits["changed_by"] == "nurse-ann"
            await click(driver, "#patient-view button.back")
            await wait_js(driver, "return !document.getElementById('grid-wrap').hidden", 5, "the station again")

            # the tone is off by default; the nurse switches it on
            assert await js(driver, "return document.getElementById('tone').getAttribute('aria-pressed')") == "false"
            await click(driver, "#tone")
            assert await js(driver, "return document.getElementById('tone').textContent") == "Tone: on"

            # the breach alarms (medium), then escalates unacknowledged, and is acknowledged from the page
            badge = "document.querySelector('[data-device=\"bed-2\"] .badge')"
            await wait_js(driver, f"return !{badge}.hidden && {badge}.textContent.includes('SpO₂ low')", 25,
                          "bed-2's SpO2 alarm on its tile")
            assert "MEDIUM" in await js(driver, f"return {badge}.textContent")
            await wait_js(driver, "return window.iomtStats.tones >= 1", 5, "the alarm sounded")
            spo2 = "document.querySelector('[data-device=\"bed-2\"] [data-vital=\"spo2\"] .v')"
            assert await js(driver, f"return {spo2}.classList.contains('s-low')")  # coloured from the limits
            item = "document.querySelector('li.alert[data-device=\"bed-2\"][data-state=\"raised\"]')"
            await wait_js(driver, f"return {item} && {item}.dataset.escalated === 'true' && document.querySelector("
                          "'[data-device=\"bed-2\"]').classList.contains('escalated')", 12, "the alarm escalated")
            await js(driver, f"{item}.querySelector('button.ack').click()")
            acked = "document.querySelector('li.alert[data-device=\"bed-2\"]')"
            await wait_js(driver, f"return {acked}.dataset.state === 'acknowledged' && "
                          f"{acked}.dataset.escalated === 'false'", 5, "acknowledged, no longer escalated")
            stored = await asyncio.to_thread(w.gw.store.alerts, AlertQuery(device="bed-2"))
            assert [(a.event.label, a.state, a.acknowledged_by) for a in stored] == [
                ("spo2_low", "acknowledged", "nurse-ann")]

            # the deterioration raises NEWS2 and brings bed-3 to the top
            await wait_js(driver, f"return {order[7:]}[0] === 'bed-3'", 30, "bed-3 first")
            news2 = await js(driver, "const n = document.querySelector('[data-device=\"bed-3\"] .news2'); "
                             "return [n.dataset.band, Number(n.querySelector('.score').textContent)]")
            assert news2[0] == "high" and news2[1] >= 7
            assert await js(driver, "return document.querySelector('[data-device=\"bed-3\"]')"
                            ".classList.contains('p-high')")
            keep(driver, "station", tmp_path)

            # the patient view: trends, the timeline, and a strip of the ECG with beat labels around the alarm
            await click(driver, '[data-device="bed-3"]')
            await wait_js(driver, "return Number(document.querySelector('[data-chart=\"news2\"]').dataset.points) > 0"
                          " && Number(document.querySelector('[data-chart=\"hr\"]').dataset.points) > 0", 10,
                          "the trends")
            await wait_js(driver, "return [...document.querySelectorAll('.timeline li')].some(li => "
                          "li.textContent.includes('NEWS2 high'))", 10, "the alarm in the timeline")
            await js(driver, "[...document.querySelectorAll('.timeline li')].find(li => "
                     "li.textContent.includes('NEWS2 high')).querySelector('button.review').click()")
            await wait_js(driver, "const s = document.querySelector('#patient-view .strip'); return s.dataset.stream "
                          "=== 'ecg' && Number(s.dataset.samples) > 1000 && Number(s.dataset.beats) > 5", 10,
                          "the ECG strip with its beats")
            lit = await js(driver, """const c = document.querySelector('#patient-view .strip canvas');
                const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n;""")
            assert lit > 1000
            await click(driver, '#patient-view button[data-range="300"]')
            await wait_js(driver, "return document.querySelector('#patient-view button[data-range=\"300\"]')"
                          ".classList.contains('on')", 5, "the 5-minute range")
            await asyncio.sleep(1.0)
            keep(driver, "patient", tmp_path)

            # after the devices stop, a reload fills the traces from the store (no live frame comes any more)
            await asyncio.sleep(max(0.0, SECONDS + 2 - (time.monotonic() - started)))
            await asyncio.to_thread(driver.get, w.gw.url)
            await wait_js(driver, "return window.iomtStats.backfilled >= 4", 15, "traces backfilled")
            await wait_js(driver, """const c = document.querySelector('[data-device="bed-1"] canvas.ecg');
                const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                let lit = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) lit++; return lit > 300;""",
                          10, "bed-1's ECG drawn from the store")
            assert await js(driver, "return window.iomtStats.waves") == 0


async def test_lead_off_is_a_technical_alarm_only_and_a_stopped_edge_leaves_its_patients_not_analysed(
        tmp_path, mosquitto):
    async with ward(tmp_path, mosquitto.url, StationConfig(tick_s=0.5)) as w:
        ecg = [scripted_ecg("bed-1", 30.0, seed=3, condition="normal", lead_off=(5.0, 30.0)),
               scripted_ecg("bed-2", 30.0, seed=4, condition="normal")]
        w.publish(ecg, {"bed-1": lambda t: NORMAL, "bed-2": lambda t: NORMAL}, 30.0)
        with chromium() as driver:
            await sign_in(driver, w, "viewer-vic", Role.VIEWER)
            inop = "document.querySelector('[data-device=\"bed-1\"] .inop')"
            await wait_js(driver, f"return {inop} && !{inop}.hidden && {inop}.textContent.includes('Lead off (ECG)')",
                          20, "lead off on bed-1's tile")
            assert await js(driver, "return document.querySelector('[data-device=\"bed-1\"] .badge').hidden")
            await wait_js(driver, "return [...document.querySelectorAll('li.alert')].some(li => "
                          "li.dataset.category === 'technical' && li.textContent.includes('Lead off'))", 5,
                          "the INOP in the alarm list")
            assert await js(driver, "const b = document.querySelector('li.alert button.ack'); "
                            "return b !== null && getComputedStyle(b).display === 'none'")  # a viewer only looks
            await asyncio.sleep(3.0)  # the edge keeps classifying nothing on the bad lead: still no clinical alarm
            assert not await js(driver, "return [...document.querySelectorAll('li.alert')].some(li => "
                                "li.dataset.category === 'clinical')")
            alerts = await asyncio.to_thread(w.gw.store.alerts, AlertQuery(device="bed-1"))
            assert [(a.event.label, category_of(a.event)) for a in alerts] == [("lead_off", Category.TECHNICAL)]
            assert await js(driver, "return !document.querySelector('[data-device=\"bed-2\"]')"
                            ".classList.contains('not-analysed')")

            stopped = time.monotonic()
            await asyncio.to_thread(w.stop_edge)
            await wait_js(driver, "return [...document.querySelectorAll('#grid .card')].every(c => "
                          "c.classList.contains('not-analysed') && c.classList.contains('stale') && "
                          "c.querySelector('.inop').textContent.startsWith('NOT ANALYSED'))",
                          KEEPALIVE_S, "every patient of the stopped edge not analysed")
            assert time.monotonic() - stopped <= KEEPALIVE_S + 1.0  # the stop itself drains for up to 1 s


LIT_COLUMNS = """const c = document.querySelector('[data-device="band-1"] .t-' + arguments[0] + ' canvas');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let cols = 0;
    for (let x = 0; x < c.width; x++) {
      for (let y = 0; y < c.height; y++) if (d[(y * c.width + x) * 4 + 3] > 0) { cols++; break; }
    }
    return cols / c.width;"""


async def test_the_emotion_band_draws_each_stream_in_its_own_trace(tmp_path):
    """The band's ECG (250 Hz) and pleth (64 Hz), respiration and EDA come interleaved in every uplink: each fills
    its own labelled trace (one shared trace reset at every change of rate and never filled)."""
    import aiohttp
    import numpy as np

    from gateway.config import GatewayConfig
    from gateway.server import running_gateway
    from iomt.wire.frames import make_frame
    from tests.gateway.auth_helpers import Keys
    from tests.gateway.helpers import uplink_body

    rates = {"ecg": 250.0, "ppg": 64.0, "resp": 25.0, "eda": 4.0}
    async with running_gateway(GatewayConfig(port=0, db_path=tmp_path / "gw.sqlite")) as gw, \
            aiohttp.ClientSession() as http:
        keys = Keys(gw)
        stop = asyncio.Event()

        async def feed() -> None:
            t0, k = time.time_ns() // 1000, 0
            while not stop.is_set():
                frames = []
                for stream, hz in rates.items():
                    n = np.arange(round(hz / 4)) + k * round(hz / 4)
                    values = (np.sin(n / hz * 2 * np.pi * 1.2) * 800).astype(np.int16)
                    frames.append(make_frame("band-1", stream, k, t0 + k * 250_000, hz, values, 0.001))
                async with http.post(f"{gw.url}/api/v1/uplink", data=uplink_body(frames=frames),
                                     headers=keys.edge("edge-band")) as r:
                    assert r.status == 200, await r.text()
                k += 1
                await asyncio.sleep(max(0.0, (t0 + k * 250_000) / 1e6 - time.time()))

        feeder = asyncio.ensure_future(feed())
        try:
            with chromium() as driver:
                keys.user("viewer-vic", Role.VIEWER)
                await asyncio.to_thread(browser.sign_in, driver, gw.url, "viewer-vic", PASSWORD)
                await wait_js(driver, "return ['ecg', 'ppg', 'resp', 'eda'].every(s => "
                              "document.querySelector('[data-device=\"band-1\"] .t-' + s) !== null)", 15,
                              "a trace per stream of the band")
                labels = await js(driver, "return [...document.querySelectorAll('[data-device=\"band-1\"] .trace')]"
                                  ".map(t => t.querySelector('.tlabel').textContent)")
                assert labels == ["ECG II · 0.5 mV/div · 8 s", "Pleth · auto · 8 s", "Resp · auto · 8 s",
                                  "EDA · auto · 8 s"]
                await asyncio.sleep(5.0)  # 5 of the 8 s window
                ecg = await asyncio.to_thread(driver.execute_script, LIT_COLUMNS, "ecg")
                ppg = await asyncio.to_thread(driver.execute_script, LIT_COLUMNS, "ppg")
                assert ecg > 0.4 and ppg > 0.4, (ecg, ppg)  # both keep filling: neither resets the other
        finally:
            stop.set()
            await feeder
