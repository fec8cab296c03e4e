"""Configuration of the simulators (section ``[sim]``, or ``IOMT_SIM__*``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from firmware_sim.rates import RatesName
from firmware_sim.scenario import DEFAULT_IMAGING_DEVICES
from iomt.config import MqttConfig, StrictModel


class SimConfig(StrictModel):
    site: str = Field("default", description="Site the simulated devices belong to.")
    mqtt: MqttConfig = Field(default_factory=MqttConfig, description="Broker connection.")
    patients: int = Field(10, ge=1, le=100_000, description="Number of simulated patients.")
    seed: int = Field(0, ge=0, description="Seed; the same seed gives the same signals.")
    ecg_hz: Literal[250, 360, 500] = Field(250, description="ECG sample rate (250, 360 or 500 Hz).")
    acc_hz: float = Field(50.0, ge=10, le=200, description="Accelerometer sample rate.")
    qos: int = Field(1, ge=0, le=1, description="MQTT QoS of data frames (1: at-least-once).")
    publish_truth: bool = Field(True, description="Publish ground truth on the truth topics.")
    frame_s: float = Field(0.5, ge=0.05, le=10, description="Seconds of signal per ECG/motion frame.")
    imaging_devices: int = Field(
        DEFAULT_IMAGING_DEVICES, ge=0, le=100,
        description="Imaging devices in the default mix (ultrasound, an image every 10 s, imaging the patients in "
        "turn); their images are sealed with their keys from device_credentials."
    )
    device_credentials: Path | None = Field(
        None, description="JSON file of per-device MQTT credentials ({\"devices\": {id: {\"username\", "
        "\"password\", \"key_id\", \"key\"}}}); each device then connects with its own, as real devices do, and "
        "imaging devices seal their images with their key."
    )
    rates: RatesName = Field("realistic", description=(
        "Random falls, arrhythmia episodes and deteriorations: realistic (clinically plausible, the default), "
        "demo (raised so that something happens within minutes; not clinical) or enriched (training data)."))
