"""`iomt demo`, the main job, end to end: 20 patients for 20 s, every sequence number stored once."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from iomt.wire.streams import CHUNKED_STREAMS, is_reading_stream
from testsupport.services import Mosquitto

pytestmark = pytest.mark.slow


def run_demo(tmp_path: Path, *extra: str) -> tuple[dict[str, object], Path]:
    summary = tmp_path / "s.json"
    workdir = tmp_path / "work"
    cmd = [sys.executable, "-m", "iomt_app", "--log-level", "WARNING", "demo", "--patients", "20", "--duration", "20",
           "--summary", str(summary), "--workdir", str(workdir), "--port", "0", *extra]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=110, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(summary.read_text()), workdir


def assert_every_sequence_stored_once(workdir: Path) -> None:
    published = json.loads((workdir / "sim-report.json").read_text())["streams"]
    assert len({key.split("/")[0] for key in published}) >= 20  # every patient's devices reported
    db = sqlite3.connect(workdir / "gateway.sqlite")
    try:
        for key, count in published.items():
            device, stream = key.rsplit("/", 1)
            if stream in CHUNKED_STREAMS:
                continue  # images: see assert_every_image_stored_once
            table = "readings" if is_reading_stream(stream) else "frames"
            seqs = [r[0] for r in db.execute(
                f"SELECT seq FROM {table} WHERE device = ? AND stream = ? ORDER BY seq", (device, stream))]
            assert seqs == list(range(count)), f"{key}: stored {len(seqs)} of {count}"
        assert count > 0
    finally:
        db.close()


def assert_every_image_stored_once(workdir: Path) -> int:
    """Every image the imaging device took is in the image store once, sealed in transit, with the patient it
    names and its ground-truth layer; the number of images."""
    published = json.loads((workdir / "sim-report.json").read_text())["streams"]
    images = {k.rsplit("/", 1)[0]: n for k, n in published.items() if k.rsplit("/", 1)[1] in CHUNKED_STREAMS}
    assert images, "the default mix has an imaging device"
    db = sqlite3.connect(workdir / "images" / "index.sqlite")
    try:
        for device, count in images.items():
            rows = db.execute("SELECT seq, patient, sealed FROM images WHERE device = ? ORDER BY seq",
                              (device,)).fetchall()
            assert [r[0] for r in rows] == list(range(count)) and all(r[2] == 1 for r in rows), rows
            assert all(str(r[1]).startswith("patient-") for r in rows)
            truth = db.execute("SELECT COUNT(*) FROM layers WHERE device = ? AND layer = 'ground_truth'",
                               (device,)).fetchone()[0]
            assert truth == count
    finally:
        db.close()
    return sum(images.values())


def test_demo_through_real_mosquitto_stores_every_sequence_exactly_once(tmp_path: Path) -> None:
    with Mosquitto() as broker:
        summary, workdir = run_demo(tmp_path, "--broker", broker.url)
    assert summary["lost"] == 0 and summary["duplicates"] == 0
    assert summary["stored"] == summary["published"]
    # 20 patients x 20 s: 40 ECG + 40 motion frames and 20 vitals readings each, less the stagger
    assert isinstance(summary["published"], int) and summary["published"] > 20 * 90
    assert_every_sequence_stored_once(workdir)
    assert summary["events"] > 0  # heart-rate events flowed through the outbox too
    latency = summary["latency_ms"]
    assert isinstance(latency, dict) and latency["p50"] is not None and latency["p99"] >= latency["p50"] > 0


def test_demo_on_the_embedded_broker(tmp_path: Path) -> None:
    summary, workdir = run_demo(tmp_path)
    assert summary["broker"] == "embedded amqtt"
    assert summary["lost"] == 0 and summary["duplicates"] == 0 and summary["dead_letter"] == 0
    assert summary["stored"] == summary["published"] > 20 * 90
    assert_every_sequence_stored_once(workdir)
    # the imaging device's images (sealed with its registry key) are all in the image store
    images = assert_every_image_stored_once(workdir)
    assert summary["images"] == {"published": images, "stored": images} and images >= 1
    for key in ("published", "stored", "lost", "duplicates", "dead_letter", "latency_ms"):
        assert key in summary


def children(parent: int) -> list[tuple[int, str]]:
    """(pid, command line) of the running children of ``parent``."""
    import os

    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            if ppid != parent:
                continue
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                out.append((int(entry), fh.read().replace(b"\0", b" ").decode(errors="replace")))
        except (OSError, ValueError, IndexError):
            continue
    return out


def test_the_demos_broker_refuses_the_unauthenticated_and_no_secret_is_on_a_command_line(tmp_path: Path) -> None:
    """Secure by default: the embedded broker listens with TLS only and refuses a client without
    credentials; the processes get their credentials in files, not on their command lines; the
    admin password is printed once and stored only as a hash."""
    import re
    import threading
    import time

    from gateway.auth import Role, UserStore
    from iomt.config import MqttConfig, TlsConfig
    from iomt.transport import TransportError
    from iomt.transport.bulk_mqtt import BulkMqttBus
    from iomt.transport.mqtt import MqttBus

    workdir = tmp_path / "work"
    cmd = [sys.executable, "-m", "iomt_app", "--log-level", "INFO", "demo", "--patients", "3", "--duration", "12",
           "--workdir", str(workdir), "--port", "0"]
    demo = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    found = threading.Event()

    def read(stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            lines.append(line)
            if "dashboard:" in line:
                found.set()

    readers = [threading.Thread(target=read, args=(s,), daemon=True) for s in (demo.stdout, demo.stderr)]
    for reader in readers:
        reader.start()
    try:
        assert found.wait(90), "".join(lines)[-3000:]
        url = re.search(r"broker: (mqtts://127\.0\.0\.1:\d+)", "".join(lines))
        assert url is not None, "the embedded broker must be a TLS one on the loopback address"
        ca = workdir / "security" / "ca" / "ca.crt"
        for client in (MqttBus, BulkMqttBus):
            with pytest.raises(TransportError, match=r"(?i)refused the connection: not authori[sz]ed"):
                client(MqttConfig(url=url.group(1), tls=TlsConfig(ca_file=ca)), "anonymous").start(timeout=10)
        with pytest.raises(TransportError):
            BulkMqttBus(MqttConfig(url=url.group(1).replace("mqtts", "mqtt"), reconnect_max_s=1.0), "plain").start(
                timeout=3)
        issued = json.loads((workdir / "security" / "credentials" / "issued.json").read_text())
        secrets = [v["password"] for v in issued.values()] + [v["uplink_token"] for v in issued.values()
                                                             if "uplink_token" in v]
        checked: set[int] = set()
        deadline = time.monotonic() + 60
        while len(checked) < 3 and time.monotonic() < deadline and demo.poll() is None:  # broker, edge, simulator
            for pid, cmdline in children(demo.pid):
                assert not any(secret in cmdline for secret in secrets), f"a secret on the command line: {cmdline!r}"
                checked.add(pid)
            time.sleep(0.2)
        assert len(checked) >= 3, "".join(lines)[-3000:]
        assert demo.wait(120) == 0, "".join(lines)[-3000:]
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
    for reader in readers:
        reader.join(5)
    for stream in (demo.stdout, demo.stderr):
        if stream is not None:
            stream.close()
    output = "".join(lines)
    password = re.search(r"admin password \(shown once[^)]*\): (\S+)", output)
    assert password is not None and output.count(password.group(1)) == 1
    state = workdir / "security" / "users" / "state.sqlite"
    users = UserStore(state)
    try:
        user = users.verify("admin", password.group(1))
    finally:
        users.close()
    assert user is not None and user.role is Role.ADMIN
    assert password.group(1).encode() not in state.read_bytes()
