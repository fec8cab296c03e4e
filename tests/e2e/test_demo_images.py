"""The demo's imaging device end to end: images sealed on the simulated device with its registry key, through
the embedded broker (TLS, registry auth) and the real edge (key fetched from the gateway), stored encrypted,
shown by the images page in headless Chromium with the ground-truth mask outlined and a scale bar, and the
edge's int8 lesion model's predicted mask (its finding and model version) retrievable from the image API and
overlaid by the page."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from gateway.audit import AuditLog
from iomt.wire.masks import decode_rle
from models.runtime import released_paths
from tests.gateway.browser import chromium, sign_in

pytestmark = pytest.mark.slow


def poll(fn, timeout_s: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def api_token(base: str, password: str) -> str:
    """An API token of the demo's admin (as a script would get one)."""
    body = json.dumps({"username": "admin", "password": password, "label": "test"}).encode()
    request = urllib.request.Request(f"{base}/api/v1/tokens", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as r:
        return json.loads(r.read())["token"]  # type: ignore[no-any-return]


def images_of(base: str, patient: str, token: str) -> list[dict[str, object]]:
    request = urllib.request.Request(f"{base}/api/v1/patients/{patient}/images",
                                     headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as r:
        return json.loads(r.read())["images"]  # type: ignore[no-any-return]


def get_json(url: str, token: str) -> dict[str, object]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as r:
        return json.loads(r.read())  # type: ignore[no-any-return]


def test_the_demos_imaging_device_shows_its_images_with_their_masks(tmp_path: Path) -> None:
    version = json.loads(released_paths("imaging")[1].read_text())["version"]
    workdir = tmp_path / "work"
    cmd = [sys.executable, "-m", "iomt_app", "--log-level", "INFO", "demo", "--patients", "2", "--workdir",
           str(workdir), "--port", "0"]
    demo = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(demo.stdout), daemon=True)  # type: ignore[arg-type]
    reader.start()
    try:
        found = poll(lambda: re.search(r"images \(sealed[^)]*\): (http://\S+)/static",
                                                                "".join(lines)), 90, "the images page's address")
        base = found.group(1)
        password = re.search(r"admin password \(shown once[^)]*\): (\S+)", "".join(lines))
        assert password is not None, "".join(lines)[-3000:]
        token = api_token(base, password.group(1))

        def with_lesion() -> tuple[str, dict[str, object]] | None:
            for patient in ("patient-0001", "patient-0002"):
                for image in images_of(base, patient, token):
                    layers = {layer["layer"]: layer for layer in image["layers"]}  # type: ignore[attr-defined]
                    if layers.get("ground_truth", {}).get("area_px", 0) > 0 and "predicted" in layers:
                        return patient, image
            return None

        # an image with a lesion in its ground truth that the edge's model has analysed (predicted layer)
        patient, image = poll(with_lesion, 120, "an image with a lesion in its ground truth, analysed by the edge")
        finding = image["finding"]
        assert isinstance(finding, dict), image
        assert finding["model"] == "imaging" and finding["model_version"] == version and finding["node"] == "edge-1"
        assert finding["label"] in ("lesion", "no_lesion")
        predicted = get_json(f"{base}/api/v1/images/{image['image_id']}/masks/predicted", token)
        assert predicted["source"] == "edge:edge-1" and predicted["model_version"] == version
        mask = decode_rle(predicted["mask_rle"], predicted["shape"])  # type: ignore[arg-type]
        assert int(mask.sum()) == predicted["area_px"] == finding["area_px"]
        assert (finding["label"] == "lesion") == (mask.sum() > 0)
        assert image["encrypted_in_transit"] is True and image["device"] == "imaging-0001"
        spacing = image["spacing_mm"]  # the simulated scanner's own (firmware_sim.imaging draws it per device)
        assert image["node"] == "edge-1" and isinstance(spacing, list) and len(spacing) == 2 and min(spacing) > 0
        with chromium() as driver:
            sign_in(driver, base, "admin", password.group(1), timeout_s=30)
            driver.get(f"{base}/static/images.html?patient={patient}")
            card = f".image-card[data-image-id='{image['image_id']}'][data-loaded]"
            poll(lambda: driver.find_elements(By.CSS_SELECTOR, card), 30, "the image drawn")
            element = driver.find_element(By.CSS_SELECTOR, card)
            assert element.get_attribute("data-shown") == "ground_truth,predicted"
            assert f"model imaging {version}" in element.find_element(By.CSS_SELECTOR, ".finding").text
            # the scale bar is as long on screen as its millimetres at the image's column spacing (2 screen px a pixel)
            bar_mm = float(element.get_attribute("data-scale-mm") or "nan")
            bar_px = float(element.get_attribute("data-scale-px") or "nan")
            assert bar_px == pytest.approx(bar_mm / spacing[1] * 2, abs=0.01) and bar_mm > 0
            green = driver.execute_script(
                "const c = document.querySelector(arguments[0] + ' canvas'), ctx = c.getContext('2d');"
                "const d = ctx.getImageData(0, 0, c.width, c.height).data; let n = 0;"
                "for (let i = 0; i < d.length; i += 4) if (d[i] === 61 && d[i+1] === 214 && d[i+2] === 140) n++;"
                "return n;", card)
            assert green > 20, green  # the ground truth's outline on the canvas
    finally:
        if demo.poll() is None:
            demo.send_signal(signal.SIGINT)
            try:
                demo.wait(120)
            except subprocess.TimeoutExpired:
                demo.kill()
                demo.wait()
        reader.join(5)
        if demo.stdout is not None:
            demo.stdout.close()
    assert demo.returncode == 0, "".join(lines)[-3000:]
    # the edge fetched the imaging device's key (to open its images for analysis), and only that one
    audit = AuditLog(workdir / "security" / "audit" / "audit.sqlite")  # the gateway's, shared with provisioning
    try:
        releases = [(e.actor, e.target, e.detail["keys"]) for e in audit.entries() if e.action == "device_key.release"]
    finally:
        audit.close()
    assert releases == [("edge:edge-1", "imaging-0001", [["imaging-0001", 1]])]
    # no device key and no uplink token in anything the demo and its children printed or logged
    issued = json.loads((workdir / "security" / "credentials" / "issued.json").read_text())
    output = "".join(lines)
    for name, entry in issued.items():
        for secret in (entry.get("key"), entry.get("uplink_token")):
            assert secret is None or secret not in output, name
    assert "refused" not in "".join(line for line in lines if "WARNING" in line), "".join(lines)[-3000:]
