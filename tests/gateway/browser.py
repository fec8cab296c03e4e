"""Headless Debian chromium driven by selenium through Debian's chromedriver (nothing is downloaded)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--window-size=1400,900",
)


@contextmanager
def chromium() -> Iterator[webdriver.Chrome]:
    for binary in (CHROMIUM, CHROMEDRIVER):
        if not Path(binary).exists():
            raise RuntimeError(f"{binary} is missing; run the README's test command (it installs chromium)")
    profile = Path(tempfile.mkdtemp(prefix="iomt-chromium-"))
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def sign_in(driver: webdriver.Chrome, base_url: str, username: str, password: str, timeout_s: float = 10.0) -> None:
    """Sign ``driver`` in through the gateway's login page and wait for the dashboard (blocking; from
    async tests call it with ``asyncio.to_thread``). With ``tests.gateway.auth_helpers.Keys``:
    ``keys.user("ann", Role.CLINICIAN)`` creates the user with ``auth_helpers.PASSWORD``."""
    import json
    import time

    driver.get(f"{base_url}/login")
    deadline = time.monotonic() + timeout_s
    while driver.execute_script("return document.getElementById('submit')") is None:
        if time.monotonic() > deadline:
            raise AssertionError(f"no login page at {base_url}/login")
        time.sleep(0.05)
    driver.execute_script(f"""
        document.getElementById('username').value = {json.dumps(username)};
        document.getElementById('password').value = {json.dumps(password)};
        document.getElementById('submit').click();""")
    while driver.execute_script("return location.pathname") == "/login":
        if time.monotonic() > deadline:
            message = driver.execute_script("return document.getElementById('message').textContent")
            raise AssertionError(f"sign-in as {username!r} failed: {message!r}")
        time.sleep(0.05)
