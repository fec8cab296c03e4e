"""Orchestration of ``iomt demo``: broker, gateway (in this process), edge and simulator processes.

At the end it drains the pipeline and writes a summary whose loss and duplicate counts come from the
sequence numbers in the store, compared with what the simulator reports it published.

Secure by default. On the embedded broker, the first run provisions ``<workdir>/security`` (a local
CA, the broker's TLS certificate, the gateway's HTTPS certificate, an identity with credentials for
every simulated device, the edge and the gateway in the device registry, the admin user of the
page and API; :mod:`iomt_app.provision`), the broker listens with TLS on 127.0.0.1 and accepts only
enrolled identities within their topic grants, the edge authenticates at the uplink with the token
the registry issued it, and each process gets its credentials in a config file (``--config``), never
on its command line. With ``--broker URL`` (a broker run elsewhere) the demo enrols nothing there,
but the API is still authenticated: the admin user in the gateway's state file and an uplink token
for the edge in ``<workdir>/credentials``. Either way the admin's generated password is printed
once, on the terminal only.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from gateway import views
from gateway.auth import EdgeTokens, ensure_admin
from gateway.config import GatewayConfig
from gateway.imaging.service import IMAGING
from gateway.registry.config import RegistryConfig
from gateway.server import running_gateway
from gateway.state import STATION
from gateway.station.service import Station
from gateway.store.base import Store
from gateway.store.records import Table
from iomt.config import MqttConfig, TlsConfig
from iomt.wire.streams import CHUNKED_STREAMS
from iomt_app.provision import Provisioned, SecurityPlan, provision
from testsupport.net import free_port, wait_for_port

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoOptions:
    patients: int = 10
    duration_s: float | None = None
    summary_path: Path | None = None
    broker_url: str | None = None
    port: int = 8080
    workdir: Path | None = None
    drain_timeout_s: float = 60.0
    log_level: str = "INFO"
    #: event-rate profile of the simulated ward (firmware_sim.rates); the demo's own is raised, labelled
    rates: str = "demo"
    #: deterioration courses forced on patients (``COURSE:PATIENT:START_S:DURATION_S``); None: the
    #: showcase, a sepsis-like course compressed into eight minutes on the second patient
    deteriorations: tuple[str, ...] | None = None

    def forced_courses(self) -> tuple[str, ...]:
        if self.deteriorations is not None:
            return self.deteriorations
        return (f"sepsis:patient-{min(2, self.patients):04d}:60:480",)


def _split_streams(sim_report: dict[str, Any]) -> tuple[dict[str, int], dict[str, int]]:
    """(frame and reading streams, imaging streams) of the simulator's per-stream counts."""
    streams: dict[str, int] = sim_report.get("streams", {})
    chunked = {k: v for k, v in streams.items() if k.rsplit("/", 1)[1] in CHUNKED_STREAMS}
    return {k: v for k, v in streams.items() if k not in chunked}, chunked


def summarize(store: Store, sim_report: dict[str, Any], images_stored: int = 0) -> dict[str, Any]:
    """Compare what was published (sequence numbers 0..n-1 per stream) with the gateway's summary view;
    images (published in chunks) apart: how many were taken and how many the image store holds."""
    published_streams, image_streams = _split_streams(sim_report)
    view = views.summary(store)
    held = {(p.device, stream): loss.frames for p in view.patients for stream, loss in p.loss.items()}
    lost = 0
    stored = 0
    for key, count in published_streams.items():
        device, stream = key.rsplit("/", 1)
        lost += count - held.get((device, stream), 0)
        stored += held.get((device, stream), 0)
    latency = store.frame_latency()
    return {
        # frames and readings (one message each); image chunks are counted under "images"
        "published": sum(published_streams.values()) if image_streams else int(sim_report.get("published", 0)),
        "stored": stored,
        "lost": lost,
        "duplicates": view.totals.duplicates,
        "dead_letter": view.totals.deadletters,
        "events": view.totals.events,
        "latency_ms": {"p50": latency.p50_ms, "p99": latency.p99_ms, "max": latency.max_ms, "frames": latency.count},
        "late_frames": int(sim_report.get("late_frames", 0)),
        "images": {"published": sum(image_streams.values()), "stored": images_stored},
    }


def seed_ward(station: Station, patients: int, prefix: str = "patient") -> None:
    """Register the simulated patients in the station's registry: four beds to a room (skips registered ones)."""
    known = station.records()
    for i in range(1, patients + 1):
        device = f"{prefix}-{i:04d}"
        if device not in known:
            station.update_record(device, {"bed": str(i), "room": f"Room {(i - 1) // 4 + 1}",
                                           "display_name": f"Patient {i}"}, "demo", "registry.update", "system")


async def _spawn(name: str, *args: str, log_level: str, env: dict[str, str] | None = None
                 ) -> asyncio.subprocess.Process:
    cmd = [sys.executable, "-m", "iomt_app", "--log-level", log_level, *args]
    log.debug("starting %s: %s", name, " ".join(cmd))
    # A session of its own: Ctrl-C reaches only the demo, which then stops the children in order
    # (simulator first, then drain, then the edge) so nothing in flight is cut off.
    return await asyncio.create_subprocess_exec(*cmd, start_new_session=True,
                                                env=None if env is None else {**os.environ, **env})


def _credentials(config: GatewayConfig, workdir: Path) -> Path:
    """First run: the admin user (password printed once) and the edge's uplink token file; later runs
    keep the users and issue the edge a fresh token (its old one stops working)."""
    password = ensure_admin(config.state_file())
    if password is not None:
        print(  # noqa: T201 - shown once on the terminal, deliberately not through logging
            f"\n  admin password (shown once, stored only as a hash in {config.state_file()}; sign in to the "
            f"dashboard as 'admin'): "
            f"{password}\n", flush=True,
        )
    tokens = EdgeTokens(config.state_file())
    try:
        token = tokens.issue(EDGE)
    finally:
        tokens.close()
    path = workdir / "credentials" / f"{EDGE}.uplink-token"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(token + "\n")
    return path


async def _stop(proc: asyncio.subprocess.Process | None, grace_s: float = 30.0) -> None:
    if proc is None or proc.returncode is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), grace_s)
    except TimeoutError:
        proc.kill()
        await proc.wait()


async def _wait_drained(store: Store, target: int, timeout_s: float, count: Callable[[], int] | None = None) -> int:
    """Wait until the store holds ``target`` data records (or ``count()`` reaches it), or nothing moved for
    ``timeout_s``."""
    loop = asyncio.get_running_loop()
    last, last_change = -1, time.monotonic()
    counter = count or (lambda: store.count(Table.FRAMES) + store.count(Table.READINGS))
    while True:
        have = await loop.run_in_executor(None, counter)
        if have >= target:
            return have
        if have != last:
            last, last_change = have, time.monotonic()
        elif time.monotonic() - last_change > timeout_s:
            log.warning("pipeline stopped draining at %d of %d records", have, target)
            return have
        await asyncio.sleep(0.2)


async def run_demo(options: DemoOptions) -> int:
    workdir = options.workdir or Path(tempfile.mkdtemp(prefix="iomt-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    child_level = "WARNING" if options.log_level == "INFO" else options.log_level
    broker: asyncio.subprocess.Process | None = None
    edge: asyncio.subprocess.Process | None = None
    sim: asyncio.subprocess.Process | None = None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        broker_url = options.broker_url
        gateway_mqtt = MqttConfig(url=broker_url) if broker_url else None
        edge_config: list[str] = []
        sim_config: list[str] = []
        sim_env: dict[str, str] | None = None
        edge_env: dict[str, str] = {}
        if broker_url is None:
            security = await loop.run_in_executor(None, _secure, workdir, options.patients)
            port = free_port()
            broker = await _spawn("broker", "broker", "--port", str(port), "--registry", str(security.registry),
                                  "--tls-cert", str(security.broker_cert), "--tls-key", str(security.broker_key),
                                  log_level=child_level)
            if not await loop.run_in_executor(None, wait_for_port, "127.0.0.1", port, 20.0):
                log.error("the embedded broker did not start")
                return 1
            broker_url = f"mqtts://127.0.0.1:{port}"
            username, password = security.mqtt_credentials(GATEWAY)
            gateway_mqtt = MqttConfig(url=broker_url, username=username, password=SecretStr(password),
                                      tls=TlsConfig(ca_file=security.ca_cert))
            edge_config = ["--config", str(security.edge_config(EDGE))]
            sim_config = ["--config", str(security.sim_config)]
            gateway_config = GatewayConfig(
                port=options.port, db_path=workdir / "gateway.sqlite", mqtt=gateway_mqtt,
                state_path=security.user_state, audit_path=security.audit_log,
                registry=RegistryConfig(path=security.registry, key_file=security.registry_key),
            )
        else:
            log.warning("using the broker at %s as it is: the demo enrols nothing there, so no device has a key to "
                        "seal images with and the demo runs no imaging device", broker_url)
            sim_env = {"IOMT_SIM__IMAGING_DEVICES": "0"}
            gateway_config = GatewayConfig(port=options.port, db_path=workdir / "gateway.sqlite", mqtt=gateway_mqtt)
            token_file = await loop.run_in_executor(None, _credentials, gateway_config, workdir)
            edge_config = ["--node-id", EDGE]
            edge_env = {"IOMT_EDGE__UPLINK_TOKEN_FILE": str(token_file)}
        async with running_gateway(gateway_config) as gateway:
            await loop.run_in_executor(None, seed_ward, gateway.app[STATION], options.patients)
            log.info("dashboard: %s   (store: %s, broker: %s)", gateway.url, gateway_config.db_path, broker_url)
            if gateway_config.registry is not None:
                log.info("images (sealed end to end, with their masks): %s/static/images.html", gateway.url)
            edge = await _spawn(
                "edge", "edge", *edge_config, "--broker", broker_url, "--gateway", gateway.url,
                "--outbox", str(workdir / "edge-outbox.sqlite"), log_level=child_level,
                env=edge_env,
            )
            if not await _wait_edge_online(gateway.store, edge, 30.0):
                log.error("the edge node did not come online")
                return 1
            report_path = workdir / "sim-report.json"
            sim_args = ["sim", *sim_config, "--broker", broker_url, "--patients", str(options.patients),
                        "--report", str(report_path), "--rates", options.rates]
            for course in options.forced_courses():
                sim_args += ["--deterioration", course]
                log.info("deterioration forced: %s (course:patient:onset s:onset-to-worst s)", course)
            if options.rates == "demo":
                log.info("event rates: DEMO profile, raised so that falls, arrhythmias and deteriorations happen "
                         "within minutes (not clinical; --rates realistic for a ward's rates)")
            if options.duration_s is not None:
                sim_args += ["--duration", str(options.duration_s)]
            sim = await _spawn("sim", *sim_args, log_level=child_level, env=sim_env)
            sim_done = asyncio.ensure_future(sim.wait())
            stop_wait = asyncio.ensure_future(stop.wait())
            await asyncio.wait({sim_done, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
            stop_wait.cancel()
            if not sim_done.done():
                await _stop(sim)
            sim_code = await sim_done
            if sim_code != 0 and not stop.is_set():
                log.error("the simulator exited with status %s; see its error above", sim_code)
                return 1
            if not report_path.exists():
                log.error("the simulator wrote no report to %s", report_path)
                return 1
            sim_report = json.loads(report_path.read_text())
            log.info("simulation over; draining the pipeline")
            records, images = _split_streams(sim_report)
            target = sum(records.values()) if images else int(sim_report.get("published", 0))
            await _wait_drained(gateway.store, target, options.drain_timeout_s)
            image_store = gateway.app[IMAGING].store
            await _wait_drained(gateway.store, sum(images.values()), options.drain_timeout_s, image_store.count)
            await _stop(edge)
            summary = await loop.run_in_executor(None, summarize, gateway.store, sim_report, image_store.count())
        summary["patients"] = options.patients
        summary["duration_s"] = options.duration_s
        summary["broker"] = "embedded amqtt" if options.broker_url is None else options.broker_url
        text = json.dumps(summary, indent=2)
        if options.summary_path is not None:
            options.summary_path.write_text(text + "\n")
        log.info("summary: %s", json.dumps(summary))
        return 0
    finally:
        await _stop(sim)
        await _stop(edge)
        await _stop(broker, grace_s=10)


#: The demo's edge node and gateway identities (the edge's and the simulator's default site).
EDGE = "edge-1"
GATEWAY = "gateway"
SITE = "default"


def _secure(workdir: Path, patients: int) -> Provisioned:
    """Provision ``workdir/security`` for ``patients`` simulated patients; print the admin password
    the first time (to the terminal only: it is stored nowhere, and never logged)."""
    from firmware_sim.scenario import DEFAULT_IMAGING_DEVICES, default_scenario, device_ids

    scenario = default_scenario(patients, site=SITE, imaging_devices=DEFAULT_IMAGING_DEVICES)
    plan = SecurityPlan(site=SITE, edges=(EDGE,), devices=device_ids(scenario), gateway=GATEWAY)
    security = provision(workdir / "security", plan)
    log.info("security: %s (CA %s; %d identities enrolled this run)", security.root, security.ca_cert,
             len(security.enrolled))
    if security.admin_password is not None:
        print(  # noqa: T201 - shown once on the terminal, deliberately not through logging
            f"\n  admin password (shown once, stored only as a hash in {security.user_state}; sign in to the "
            f"dashboard as 'admin'): "
            f"{security.admin_password}\n", flush=True,
        )
    return security


async def _wait_edge_online(store: Store, edge: asyncio.subprocess.Process, timeout_s: float) -> bool:
    loop = asyncio.get_running_loop()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if edge.returncode is not None:
            return False
        edges = await loop.run_in_executor(None, store.edges)
        if any(e.status == "online" for e in edges):
            return True
        await asyncio.sleep(0.1)
    return False
