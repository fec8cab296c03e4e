"""Scenario files (TOML): the fleet, its schedules and its faults; and the default mix.

Example::

    site = "ward-3"
    seed = 7
    duration_s = 120

    [[patients]]              # a group of patients sharing a setup
    count = 4
    condition = "pvc"         # normal | pac | pvc | af_paroxysmal | vt_prone | paced (default: drawn)
    devices = ["ecg_patch", "motion", "vitals"]   # or "emotion_band"
    ecg_hz = 360

    [[imaging]]
    id = "us-probe-1"
    modality = "ultrasound"
    interval_s = 5
    patients = ["patient-0001", "patient-0002"]   # imaged in turn (default: every patient)

    [[faults]]
    type = "loss"
    devices = ["patient-0002"]
    probability = 0.1
    start_s = 10
    end_s = 40

    [[deteriorations]]        # a course forced on chosen patients (firmware_sim.deterioration)
    course = "sepsis"         # sepsis | respiratory | haemorrhage
    devices = ["patient-0001"]
    start_s = 30
    duration_s = 600          # onset to worst (then a quarter of that at worst, then recovery)

    [[arrhythmias]]           # an episode forced on chosen ECG wearers
    rhythm = "VT"             # VT (a run lasting duration_s) | AF
    devices = ["patient-0002"]
    start_s = 20
    duration_s = 3

``rates`` (top level) picks the profile of random events, ``realistic`` by default
(:mod:`firmware_sim.rates`); forced events happen whatever the profile.

Errors name the field and, where it can be found, the line: ``scenario.toml line 14: faults[0].probability:
Input should be less than or equal to 1``.
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field, ValidationError, field_validator, model_validator

from firmware_sim.cardiac import Episode
from firmware_sim.deterioration import COURSES, Course, CourseKind, CoursePlan
from firmware_sim.devices import (
    EcgPatch,
    EmotionBand,
    ImagingDevice,
    MotionWearable,
    SimDevice,
    StatusReporter,
    VitalsMonitor,
)
from firmware_sim.faults import BatteryDrain, Fault
from firmware_sim.persona import CONDITIONS, make_persona
from firmware_sim.rates import RatesName, rates
from iomt.config import StrictModel
from iomt.wire.topics import is_identifier

DeviceKind = Literal["ecg_patch", "motion", "vitals", "emotion_band"]
DEFAULT_DEVICES: list[DeviceKind] = ["ecg_patch", "motion", "vitals"]


class ScenarioError(ValueError):
    """A scenario file that cannot be run; the message names the file, line and field."""


class PatientGroup(StrictModel):
    count: int = Field(1, ge=1, le=100_000, description="Patients in this group.")
    prefix: str = Field("patient", description="Device ids are <prefix>-<number>.")
    condition: str | None = Field(None, description="Rhythm condition (default: drawn from the population).")
    devices: list[DeviceKind] = Field(default_factory=lambda: list(DEFAULT_DEVICES), description="Worn devices.")
    ecg_hz: Literal[250, 360, 500] = Field(250, description="ECG sample rate.")
    motion_hz: float = Field(50.0, ge=50, le=100, description="Accelerometer/gyroscope rate.")
    emotion_cycle_s: float = Field(600.0, gt=30, description="Length of one baseline/stress/amusement protocol.")
    placement: Literal["waist", "wrist"] = Field("waist", description="Where the motion wearable is worn.")
    schedule: list[str] = Field(default_factory=list, description=(
        "Activities the motion wearable performs first, in order (e.g. [\"walking\", \"fall_forward\"]); "
        "then the persona's random day continues."))

    @field_validator("schedule")
    @classmethod
    def _known_activities(cls, v: list[str]) -> list[str]:
        from firmware_sim.motion import CHAIN, MotionGenerator

        known = {name for options in CHAIN.values() for name, *_ in options}
        for name in v:
            if name not in known:
                raise ValueError(f"unknown activity {name!r}; known: {', '.join(sorted(known))}")
        dry = MotionGenerator(make_persona(0, 0), 20.0, np.random.default_rng(0))
        for i, name in enumerate(v):  # each activity must be possible from the posture the previous left
            try:
                dry.next_block(name)
            except ValueError as exc:
                raise ValueError(f"item {i}: {exc}") from None
        return v

    @field_validator("condition")
    @classmethod
    def _known_condition(cls, v: str | None) -> str | None:
        if v is not None and v not in CONDITIONS:
            raise ValueError(f"unknown condition {v!r}; known: {', '.join(CONDITIONS)}")
        return v

    @field_validator("devices")
    @classmethod
    def _no_two_ecgs(cls, v: list[DeviceKind]) -> list[DeviceKind]:
        if "ecg_patch" in v and "emotion_band" in v:
            raise ValueError("a patient wears an ECG patch or an emotion band (both publish 'ecg'), not both")
        if len(set(v)) != len(v):
            raise ValueError("a device is listed twice")
        return v


class ImagingSpec(StrictModel):
    id: str = Field(..., description="Device id.")
    modality: Literal["ultrasound", "xray"] = Field("ultrasound", description="Phantom type.")
    interval_s: float = Field(10.0, gt=0, description="Seconds between images.")
    size: int = Field(128, ge=16, le=1024, description="Image width and height in pixels.")
    lesion_probability: float = Field(0.5, ge=0, le=1, description="Chance an image shows a lesion.")
    chunk_size: int = Field(4096, ge=256, le=262_144, description="Bytes per chunk.")
    patients: list[str] | None = Field(
        None, description="Patients this device images, in turn (ids); default: every patient of the scenario; "
        "[] for none (the images then name no patient)."
    )
    first_image_s: float | None = Field(
        None, gt=0, description="Seconds from the start to the first image (at most interval_s; default interval_s).")

    @field_validator("id")
    @classmethod
    def _ident(cls, v: str) -> str:
        if not is_identifier(v):
            raise ValueError(f"{v!r} is not a valid device id (letters, digits, '_', '.', '-')")
        return v

    @field_validator("patients")
    @classmethod
    def _patient_ids(cls, v: list[str] | None) -> list[str] | None:
        for patient in v or []:
            if not is_identifier(patient):
                raise ValueError(f"{patient!r} is not a valid patient id (letters, digits, '_', '.', '-')")
        return v

    @model_validator(mode="after")
    def _first_image_within_interval(self) -> ImagingSpec:
        if self.first_image_s is not None and self.first_image_s > self.interval_s:
            raise ValueError(f"first_image_s ({self.first_image_s}) must not exceed interval_s ({self.interval_s})")
        return self


class _Forced(StrictModel):
    devices: list[str] = Field(["*"], description="Patient ids (shell patterns allowed) it happens to.")
    start_s: float = Field(0.0, ge=0, description="Onset, seconds from the start of the run.")

    def matches(self, device: str) -> bool:
        return any(fnmatch.fnmatchcase(device, p) for p in self.devices)


class DeteriorationSpec(_Forced):
    course: CourseKind = Field(..., description=f"The course: {', '.join(COURSES)}.")
    duration_s: float = Field(..., gt=0, description=(
        "Seconds from onset to the worst (hours on a ward; minutes to compress it for a demo or test)."))
    severity: float = Field(1.0, ge=0.3, le=2.0, description="Scales every change (1: the textbook course).")


class ArrhythmiaSpec(_Forced):
    rhythm: Literal["VT", "AF"] = Field(..., description="VT: a run of ventricular tachycardia; AF: an AF episode.")
    duration_s: float = Field(..., gt=0, le=86_400, description="Length of the run or episode.")


class Scenario(StrictModel):
    site: str = Field("default", description="Site of the devices.")
    seed: int = Field(0, ge=0, description="The same seed gives the same signals.")
    duration_s: float | None = Field(None, gt=0, description="Run length (default: until stopped).")
    frame_s: float = Field(0.5, ge=0.05, le=10, description="Signal per frame for ECG and motion streams.")
    qos: int = Field(1, ge=0, le=1, description="MQTT QoS of data frames.")
    patients: list[PatientGroup] = Field(default_factory=list, description="Patient groups.")
    imaging: list[ImagingSpec] = Field(default_factory=list, description="Imaging devices.")
    faults: list[Fault] = Field(default_factory=list, description="Faults to inject.")
    rates: RatesName = Field("realistic", description=(
        "Profile of random falls, arrhythmia episodes and deteriorations (firmware_sim.rates): realistic, "
        "demo (raised, not clinical) or enriched (training recordings)."))
    deteriorations: list[DeteriorationSpec] = Field(default_factory=list, description="Forced courses.")
    arrhythmias: list[ArrhythmiaSpec] = Field(default_factory=list, description="Forced arrhythmia episodes.")


#: Imaging devices in ``iomt sim``'s and the demo's default mix (benchmarks of physiological load use none).
DEFAULT_IMAGING_DEVICES = 1


def imaging_device_id(index: int) -> str:
    """The id of the default mix's ``index``-th imaging device (from 1)."""
    return f"imaging-{index:04d}"


def default_scenario(patients: int, seed: int = 0, site: str = "default", ecg_hz: int = 250,
                     motion_hz: float = 50.0, rates: RatesName = "realistic", imaging_devices: int = 0) -> Scenario:
    """The default mix: 80 % ECG patch + motion wearable + vitals monitor, 20 % emotion band +
    motion + vitals (every fifth patient), with random events at the ``rates`` profile; and
    ``imaging_devices`` ultrasound devices imaging the patients in turn, an image every 10 s."""
    groups = []
    for i in range(patients):
        kit = ["emotion_band", "motion", "vitals"] if i % 5 == 4 else list(DEFAULT_DEVICES)
        groups.append({"count": 1, "devices": kit, "ecg_hz": ecg_hz, "motion_hz": motion_hz})
    imaging = [{"id": imaging_device_id(j + 1), "modality": "ultrasound", "interval_s": 10.0}
               for j in range(imaging_devices)]
    return Scenario.model_validate({"site": site, "seed": seed, "patients": groups, "rates": rates,
                                    "imaging": imaging})


def load_scenario(path: Path) -> Scenario:
    """Read and validate a scenario file; :class:`ScenarioError` names the line and field."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}") from None
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = [p for p in err["loc"] if not (isinstance(p, str) and p in _FAULT_TAGS)]
            if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
                loc.append("type")
            where = _dotted(loc)
            line = _find_line(text, loc)
            prefix = f"{path} line {line}" if line else str(path)
            problems.append(f"{prefix}: {where}: {err['msg']}")
        raise ScenarioError("\n".join(problems)) from None


_FAULT_TAGS = {"lead_off", "flat_line", "motion_artifact", "saturation", "loss", "duplication", "reordering",
               "disconnect", "clock_drift", "clock_jitter", "battery_drain"}


def _dotted(loc: list[int | str]) -> str:
    out = ""
    for p in loc:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(top level)"


def _find_line(text: str, loc: list[int | str]) -> int | None:
    """Best effort: the line of ``key`` inside the n-th ``[[table]]`` (or at the top level)."""
    lines = text.splitlines()
    start, end = 0, len(lines)
    rest = list(loc)
    if len(rest) >= 2 and isinstance(rest[0], str) and isinstance(rest[1], int):
        table, index = rest[0], rest[1]
        heads = [i for i, ln in enumerate(lines) if re.match(rf"\s*\[\[\s*{re.escape(table)}\s*\]\]", ln)]
        if index >= len(heads):
            return None
        start = heads[index] + 1
        nxt = [i for i, ln in enumerate(lines) if i >= start and re.match(r"\s*\[", ln)]
        end = nxt[0] if nxt else len(lines)
        rest = rest[2:]
        if not rest:
            return heads[index] + 1
    else:
        first_table = [i for i, ln in enumerate(lines) if re.match(r"\s*\[", ln)]
        end = first_table[0] if first_table else len(lines)
    key = next((p for p in rest if isinstance(p, str)), None)
    if key is None:
        return start if start else None
    for i in range(start, end):
        if re.match(rf"\s*{re.escape(key)}\s*=", lines[i]):
            return i + 1
    return start if start else None


def device_ids(scenario: Scenario) -> list[str]:
    """The device ids :func:`build_devices` gives the scenario's patients, without building them
    (to enrol the devices before a run)."""
    ids: list[str] = []
    counters: dict[str, int] = {}
    for group in scenario.patients:
        for _ in range(group.count):
            counters[group.prefix] = counters.get(group.prefix, 0) + 1
            ids.append(f"{group.prefix}-{counters[group.prefix]:04d}")
    return ids + [spec.id for spec in scenario.imaging]


def build_devices(scenario: Scenario) -> list[SimDevice]:
    """The scenario's devices, deterministic from its seed."""
    devices: list[SimDevice] = []
    faults = list(scenario.faults)
    profile = rates(scenario.rates)
    index = 0
    counters: dict[str, int] = {}
    for group in scenario.patients:
        for _ in range(group.count):
            counters[group.prefix] = counters.get(group.prefix, 0) + 1
            pid = f"{group.prefix}-{counters[group.prefix]:04d}"
            if not is_identifier(pid):
                raise ScenarioError(f"patients: prefix {group.prefix!r} gives an invalid device id {pid!r}")
            drawn = replace(make_persona(scenario.seed, index, condition=group.condition), placement=group.placement)
            persona = profile.apply(drawn)
            rng = np.random.default_rng([scenario.seed, index, 0xD0])
            plan = CoursePlan(profile, np.random.default_rng([scenario.seed, index, 0xC0]), forced=[
                Course(d.course, d.start_s, d.duration_s, d.severity, forced=True)
                for d in scenario.deteriorations if d.matches(pid)])
            episodes = [Episode(a.rhythm, a.start_s, a.start_s + a.duration_s)
                        for a in scenario.arrhythmias if a.matches(pid)]
            kit: list[SimDevice] = []
            ecg: EcgPatch | EmotionBand | None = None
            for kind in group.devices:
                if kind == "ecg_patch":
                    ecg = EcgPatch(pid, persona, rng, float(group.ecg_hz), scenario.frame_s, faults,
                                   hr_offset=plan.hr_offset, forced=episodes)
                    kit.append(ecg)
                elif kind == "motion":
                    kit.append(MotionWearable(pid, persona, rng, group.motion_hz, scenario.frame_s, faults,
                                              schedule=list(group.schedule),
                                              fall_rate_per_h=profile.fall_rate(persona)))
                elif kind == "emotion_band":
                    ecg = EmotionBand(pid, persona, rng, float(group.ecg_hz), max(1.0, scenario.frame_s),
                                      group.emotion_cycle_s, faults, hr_offset=plan.hr_offset)
                    kit.append(ecg)
            if "vitals" in group.devices:
                kit.append(VitalsMonitor(pid, persona, rng, heart_rate=ecg.heart_rate if ecg else None, faults=faults,
                                         plan=plan))
            if any(isinstance(f, BatteryDrain) and f.matches(pid) for f in faults):
                kit.append(StatusReporter(pid, rng, faults))
            devices.extend(kit)
            index += 1
    patient_ids = list(dict.fromkeys(d.device_id for d in devices))
    for j, spec in enumerate(scenario.imaging):
        rng = np.random.default_rng([scenario.seed, j, 0x1A])
        devices.append(ImagingDevice(spec.id, rng, spec.interval_s, spec.size, spec.modality,
                                     spec.lesion_probability, spec.chunk_size, faults, spec.first_image_s,
                                     patients=patient_ids if spec.patients is None else spec.patients))
    return devices
