"""The README's screenshots of the central station: runs ``iomt demo`` (12 patients, embedded broker), signs
in as the demo's admin (the password it prints once) and photographs the station and one patient's view in
headless Debian Chromium, into docs/ as small PNGs.

    .venv/bin/python scripts/screenshots.py [--out docs] [--wait 45]
"""

from __future__ import annotations

import argparse
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from PIL import Image
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-dev-shm-usage",
         "--window-size=1400,900")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def save(driver: webdriver.Chrome, path: Path) -> None:
    raw = path.with_suffix(".raw.png")
    driver.save_screenshot(str(raw))
    Image.open(raw).convert("RGB").quantize(colors=96).save(path, optimize=True)
    raw.unlink()


def read_password(demo: subprocess.Popen[str], found: list[str]) -> None:
    """Echo the demo's output; keep the admin password it prints on its first run."""
    assert demo.stdout is not None
    for line in demo.stdout:
        match = re.search(r"admin password \(shown once.*\): (\S+)", line)
        if match:
            found.append(match.group(1))
        else:
            sys.stdout.write(line)


def sign_in(driver: webdriver.Chrome, url: str, password: str) -> None:
    driver.get(url)  # the gateway sends the browser to its login page
    for _ in range(100):
        if driver.execute_script("return document.getElementById('username') !== null"):
            break
        time.sleep(0.1)
    driver.execute_script(f"document.getElementById('username').value = 'admin';"
                          f"document.getElementById('password').value = {password!r};"
                          "document.getElementById('submit').click();")
    for _ in range(100):
        if driver.execute_script("return location.pathname === '/' && document.getElementById('grid') !== null"):
            return
        time.sleep(0.1)
    raise RuntimeError("could not sign in to the demo's dashboard as admin")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs"))
    parser.add_argument("--wait", type=float, default=45.0, help="seconds of demo before the first picture")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    port, work = free_port(), Path(tempfile.mkdtemp(prefix="iomt-shots-"))
    demo = subprocess.Popen([sys.executable, "-m", "iomt_app", "--log-level", "WARNING", "demo", "--patients", "12",
                             "--duration", str(args.wait + 60), "--port", str(port), "--workdir", str(work)],
                            stdout=subprocess.PIPE, text=True)
    password: list[str] = []
    threading.Thread(target=read_password, args=(demo, password), daemon=True).start()
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in (*FLAGS, f"--user-data-dir={work / 'profile'}"):
        options.add_argument(flag)
    try:
        time.sleep(args.wait)
        driver = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options)
        try:
            if not password:
                raise RuntimeError("the demo printed no admin password (a fresh workdir makes one)")
            sign_in(driver, f"http://127.0.0.1:{port}", password[0])
            time.sleep(12)
            save(driver, args.out / "station.png")
            device = driver.execute_script(
                "const a = [...document.querySelectorAll('li.alert')].find(li => li.textContent.includes('ectopy')"
                " || li.textContent.includes('ventricular')) || document.querySelector('li.alert');"
                "return a ? a.dataset.device : document.querySelector('#grid .card').dataset.device")
            driver.execute_script(f"location.hash = '#/patient/{device}'")
            time.sleep(4)
            driver.execute_script("document.querySelector('#patient-view button[data-range=\"300\"]').click()")
            time.sleep(4)
            save(driver, args.out / "patient.png")
        finally:
            driver.quit()
    finally:
        demo.terminate()
        demo.wait(90)
    sys.stdout.write(f"wrote {args.out / 'station.png'} and {args.out / 'patient.png'}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
