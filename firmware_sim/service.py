"""Running the simulators: a fleet of simulated patients (a scenario file or the default mix) or a
replayed recording publishing over MQTT until done or signalled, and labelled datasets written to disk.

The command line (``iomt sim``, ``iomt replay``, ``iomt sim dataset``) lives in the application
(``iomt_app.commands``), which loads the :class:`SimConfig` and calls these functions.
"""

from __future__ import annotations

import contextlib
import logging
import re
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from firmware_sim.config import SimConfig
from firmware_sim.fleet import Fleet, FleetReport
from firmware_sim.scenario import DeteriorationSpec, Scenario
from iomt.transport import MessageBus

log = logging.getLogger(__name__)


def scenario_for(
    config: SimConfig, path: Path | None = None, *, seed: int | None = None, site: str | None = None,
    deteriorations: Sequence[str] = (),
) -> Scenario:
    """The scenario to run: the file at ``path`` (its QoS and event-rate profile the config's unless the
    file sets them; ``seed`` and ``site`` replaced where given), or the config's default mix; plus the
    courses ``deteriorations`` force (``COURSE:PATIENT:START_S:DURATION_S`` each, see
    :func:`parse_deterioration`). A bad file or course raises ``ScenarioError``."""
    from firmware_sim.scenario import default_scenario, load_scenario

    forced = [parse_deterioration(text) for text in deteriorations]
    if path is None:
        scenario = default_scenario(config.patients, config.seed, config.site, config.ecg_hz, config.acc_hz,
                                    config.rates, imaging_devices=config.imaging_devices)
        return scenario.model_copy(update={"qos": config.qos, "frame_s": config.frame_s,
                                           "deteriorations": forced})
    scenario = load_scenario(path)
    updates: dict[str, Any] = {"qos": config.qos} if "qos" not in scenario.model_fields_set else {}
    if forced:
        updates["deteriorations"] = [*scenario.deteriorations, *forced]
    if "rates" not in scenario.model_fields_set:
        updates["rates"] = config.rates
    if seed is not None:
        updates["seed"] = seed
    if site is not None:
        updates["site"] = site
    return scenario.model_copy(update=updates)


def parse_deterioration(text: str) -> DeteriorationSpec:
    """``COURSE:PATIENT:START_S:DURATION_S`` (e.g. ``sepsis:patient-0002:60:600``) as a forced course;
    ``ScenarioError`` says what is wrong."""
    from pydantic import ValidationError

    from firmware_sim.scenario import DeteriorationSpec, ScenarioError

    parts = text.split(":")
    if len(parts) != 4:
        raise ScenarioError(f"deterioration {text!r}: expected COURSE:PATIENT:START_S:DURATION_S, "
                            "e.g. sepsis:patient-0002:60:600")
    course, patient, start, duration = parts
    try:
        return DeteriorationSpec.model_validate({"course": course, "devices": [patient], "start_s": start,
                                                 "duration_s": duration})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ScenarioError(f"deterioration {text!r}: {problems}") from None


def run_fleet(
    config: SimConfig, scenario: Scenario, *, duration_s: float | None = None, truth_path: Path | None = None
) -> FleetReport:
    """Publish ``scenario``'s devices over MQTT for ``duration_s`` (default: the scenario's; without
    either, until SIGTERM/SIGINT) and return what was published. Ground truth goes to the broker when
    the config says so and is appended to ``truth_path`` when given. A scenario whose devices cannot be
    built raises ``ScenarioError`` before anything is published."""
    from firmware_sim.rates import rates
    from firmware_sim.scenario import build_devices
    from firmware_sim.truth import TruthSink

    devices = build_devices(scenario)
    _give_keys(config, devices)
    duration = duration_s if duration_s is not None else scenario.duration_s
    streams = [s for d in devices for s in d.sources]
    bus = _connect(config, [s.device for s in streams],
                   f"iomt-sim-{scenario.site}-{scenario.seed}-{threading.get_native_id()}")
    truth = TruthSink(bus if config.publish_truth else None, scenario.site, truth_path)
    fleet = Fleet(bus, scenario.site, streams, qos=scenario.qos, truth=truth, faults=list(scenario.faults),
                  seed=scenario.seed)
    log.info("simulating %d devices (%d streams) on %s; event rates: %s", len(devices), len(streams),
             config.mqtt.url, rates(scenario.rates).label)
    with _stop_on_signals(fleet):
        report = fleet.run(duration if duration is not None else float("inf"))
    truth.close()
    bus.stop()
    log.info("published %d messages (%d late), %d truth events", report.published, report.late_frames,
             report.truth_events)
    return report


def run_replay(
    config: SimConfig,
    recording: Path,
    kind: str,
    *,
    device_id: str | None = None,
    channel: str | None = None,
    csv_rate_hz: float | None = None,
    annotator: str = "atr",
    rate_hz: float | None = None,
    speed: float = 1.0,
    fast: bool = False,
    truth_path: Path | None = None,
    acc_unit: str | None = None,
    gyro_unit: str | None = None,
    placement: str | None = None,
) -> FleetReport:
    """Replay a WFDB record or CSV file as one device of ``kind``: paced at ``speed`` times real time
    (or as fast as possible when ``fast``), its annotations as ground truth. ``rate_hz`` resamples the
    main stream (ECG, or motion); ``csv_rate_hz`` is the rate of a CSV without a time column;
    ``acc_unit``/``gyro_unit`` the units of motion the recording does not state (converted here to the
    wire's g and deg/s); ``placement`` where a motion sensor was worn (else its sidecar's, else
    ``unknown``), declared on the device's retained descriptor. A file
    that cannot be read raises ``ReplayError`` before anything is published."""
    import numpy as np

    from firmware_sim.replay import ReplayDevice, load
    from firmware_sim.truth import TruthSink

    loaded = load(recording, kind, channel=channel, rate=csv_rate_hz, annotator=annotator, acc_unit=acc_unit,
                  gyro_unit=gyro_unit, placement=placement)
    device_id = device_id or re.sub(r"[^A-Za-z0-9_.\-]", "-", f"replay-{loaded.name}")[:64]
    rates = {}
    if rate_hz:
        rates = {"ecg": rate_hz} if kind != "motion" else {"acc": rate_hz, "gyro": rate_hz}
    device = ReplayDevice(device_id, loaded, np.random.default_rng(0), config.frame_s, rates)
    bus = _connect(config, [device_id], f"iomt-replay-{device_id}-{threading.get_native_id()}")
    truth = TruthSink(bus if config.publish_truth else None, config.site, truth_path)
    fleet = Fleet(bus, config.site, device.sources, qos=config.qos, truth=truth)
    log.info("replaying %s (%.1f s, %s) as %s", recording, loaded.seconds, ", ".join(loaded.signals), device_id)
    with _stop_on_signals(fleet):
        report = fleet.run(device.frames * device.sources[0].frame_s + 1e-6, realtime=not fast, speed=speed)
    truth.close()
    bus.stop()
    log.info("published %d messages, %d truth events", report.published, report.truth_events)
    return report


def _give_keys(config: SimConfig, devices: list[Any]) -> None:
    """Imaging devices seal their images with their registry keys (from ``config.device_credentials``);
    one without a key sends plain images, which receivers that require encryption refuse."""
    from firmware_sim.devices import ImagingDevice

    imaging = [d for d in devices if isinstance(d, ImagingDevice)]
    if not imaging:
        return
    keys: dict[str, tuple[int, bytes]] = {}
    if config.device_credentials is not None:
        from firmware_sim.device_links import load_device_keys

        keys = load_device_keys(config.device_credentials)
    for device in imaging:
        if device.device_id in keys:
            device.use_key(*keys[device.device_id])
        else:
            log.warning("imaging device %s has no end-to-end key (device_credentials): its images go unencrypted, "
                        "and a gateway or edge that requires encryption refuses them", device.device_id)


def run_image_replay(
    config: SimConfig,
    path: Path,
    *,
    device_id: str | None = None,
    interval_s: float = 1.0,
    chunk_size: int = 4096,
    max_frames: int = 1,
    speed: float = 1.0,
    fast: bool = False,
    truth_path: Path | None = None,
) -> FleetReport:
    """Replay real image files (a DICOM/PNG/JPEG file or a directory of them) as one imaging device: each
    image once, ``interval_s`` apart (``max_frames`` frames of a multi-frame DICOM). A file that cannot
    be read raises ``ImageFileError`` before anything is published."""
    from firmware_sim.image_files import load_images
    from firmware_sim.image_replay import ImageReplayDevice
    from firmware_sim.truth import TruthSink

    images = load_images(path, max_frames=max_frames)
    device_id = device_id or re.sub(r"[^A-Za-z0-9_.\-]", "-", f"replay-{path.stem}")[:64]
    device = ImageReplayDevice(device_id, images, interval_s, chunk_size)
    bus = _connect(config, [device_id], f"iomt-replay-{device_id}-{threading.get_native_id()}")
    truth = TruthSink(bus if config.publish_truth else None, config.site, truth_path)
    fleet = Fleet(bus, config.site, device.sources, qos=config.qos, truth=truth)
    log.info("replaying %d images from %s as %s", len(images), path, device_id)
    with _stop_on_signals(fleet):
        # image k is due at (k + 1) * interval_s
        report = fleet.run(device.seconds + interval_s / 2, realtime=not fast, speed=speed)
    truth.close()
    bus.stop()
    log.info("published %d messages (%d images), %d truth events", report.published, len(images),
             report.truth_events)
    return report


def _connect(config: SimConfig, devices: list[str], client_id: str) -> MessageBus:
    """One connection for all ``devices``, or (with ``config.device_credentials``) one per device
    with its own credentials; connected, or ``TransportError``/``CredentialsError`` saying why not."""
    if config.device_credentials is not None:
        from firmware_sim.device_links import DeviceLinks, load_device_credentials

        return DeviceLinks(config.mqtt, load_device_credentials(config.device_credentials), devices).start()
    from iomt.transport.mqtt import MqttBus

    return MqttBus(config.mqtt, client_id=client_id).start()


def make_dataset(kind: str, subjects: int, seconds: float, seed: int, out: Path, rate_hz: float | None = None,
                 rates: str = "enriched") -> Path:
    """Write ``subjects`` labelled recordings of ``seconds`` each to ``out`` (no MQTT, faster than real
    time), with events at the ``rates`` profile (training data: ``enriched``); returns the index file."""
    from firmware_sim.dataset import generate, write_dataset

    start = time.perf_counter()
    index = write_dataset(out, generate(kind, subjects, seconds, seed, rate_hz=rate_hz, rates=rates))
    wall = time.perf_counter() - start
    log.info("wrote %d %s recordings of %g s to %s in %.1f s (%.0fx real time)", subjects, kind, seconds, index,
             wall, subjects * seconds / max(wall, 1e-9))
    return index


@contextlib.contextmanager
def _stop_on_signals(fleet: Fleet) -> Iterator[None]:
    """SIGTERM/SIGINT stop the fleet cleanly (it drains and reports); the old handlers come back after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    for sig in previous:
        signal.signal(sig, lambda *_: fleet.stop())
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
