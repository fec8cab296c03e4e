"""Configuration of the gateway (section ``[gateway]`` of a TOML file, or ``IOMT_GATEWAY__*``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr

from gateway.imaging.config import ImagingConfig
from gateway.registry.config import RegistryConfig
from iomt.config import MqttConfig, StrictModel


class InfluxConfig(StrictModel):
    url: str = Field("http://127.0.0.1:8086", description="InfluxDB HTTP address (v1 API: /write and /query).")
    database: str = Field("iomt", pattern=r"^[A-Za-z0-9_]{1,64}$", description="Database, created if missing.")
    username: str | None = Field(None, description="InfluxDB user, when the server enforces authentication.")
    password: SecretStr | None = Field(None, description="InfluxDB password (never logged).")
    timeout_s: float = Field(10.0, gt=0, le=300, description="Timeout of one HTTP request to InfluxDB.")


class RetentionConfig(StrictModel):
    waveform_days: float | None = Field(
        None, gt=0, description="Keep raw waveforms and readings this many days (none: forever)."
    )
    events_days: float | None = Field(None, gt=0, description="Keep events and alerts this many days (none: forever).")
    prune_interval_s: float = Field(600.0, gt=0, description="How often the SQLite store deletes expired rows.")


class LiveConfig(StrictModel):
    ecg_hz: float = Field(125.0, gt=0, le=1000, description="Rate ECG is decimated to for the live feed.")
    motion_hz: float = Field(25.0, gt=0, le=1000, description="Rate motion magnitude is decimated to (live feed).")
    queue_messages: int = Field(
        64, ge=1, le=10_000,
        description="Messages queued per browser; when full the oldest is dropped (and counted).",
    )


class GatewayConfig(StrictModel):
    host: str = Field("127.0.0.1", description="Address the HTTP server binds to (0.0.0.0 for all).")
    port: int = Field(8080, ge=0, le=65535, description="HTTP port of the API and dashboard (0 picks a free one).")
    backend: Literal["sqlite", "influxdb"] = Field("sqlite", description="Time-series store to write to.")
    db_path: Path = Field(Path("var/gateway.sqlite"), description="SQLite store file (backend 'sqlite').")
    influx: InfluxConfig = Field(default_factory=InfluxConfig, description="InfluxDB (backend 'influxdb').")
    retention: RetentionConfig = Field(default_factory=RetentionConfig, description="How long data is kept.")
    live: LiveConfig = Field(default_factory=LiveConfig, description="The dashboard's WebSocket feed.")
    site: str = Field("+", description="Site to follow on MQTT for availability and dead letters ('+' for all).")
    mqtt: MqttConfig | None = Field(
        None, description="Broker to follow for edge availability and dead letters; none disables it."
    )
    max_uplink_bytes: int = Field(64 * 1024 * 1024, ge=1024, description="Largest uplink batch accepted.")
    registry: RegistryConfig | None = Field(
        None, description="The device registry: the device keys that open end-to-end encrypted images (and that "
        "edges fetch); none: no device keys, so encrypted images are refused."
    )
    imaging: ImagingConfig = Field(default_factory=ImagingConfig, description="The image store.")
