"""Configuration of an edge node (section ``[edge]`` of a TOML file, or ``IOMT_EDGE__*``)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from iomt.config import ConfigError, MqttConfig, StrictModel
from iomt.wire.topics import is_identifier
from models.runtime import RELEASED_DIR


class ModelName(StrEnum):
    """The models an edge node can run: each has its pipeline (:mod:`edge.pipeline_registry`)."""

    #: arrhythmia (beat classes); its pipeline also gives heart rate and ECG signal quality
    ECG = "ecg"
    #: falls, from the motion wearable (with motion signal quality)
    FALL = "fall"
    #: stress, from the emotion band's ECG, EDA and PPG
    EMOTION = "emotion"
    #: deterioration risk (five NEWS2-aligned classes), from the vitals monitor's readings
    VITALS = "vitals"
    #: lesion segmentation of complete images (its own queue and cycle budget: edge.imaging_pipeline)
    IMAGING = "imaging"


class EdgeConfig(StrictModel):
    node_id: str = Field("edge-1", description="Name of this edge node (used in topics and events).")
    site: str = Field("default", description="Site whose device streams this node processes.")
    mqtt: MqttConfig = Field(default_factory=MqttConfig, description="Broker connection.")
    gateway_url: str = Field("http://127.0.0.1:8080", description="Base URL of the gateway's uplink API.")
    uplink_token: SecretStr | None = Field(
        None, description="This node's uplink token (`iomt edge-tokens issue NODE`); never logged. Prefer "
        "uplink_token_file."
    )
    uplink_token_file: Path | None = Field(None, description="File holding this node's uplink token (one line).")
    gateway_ca_file: Path | None = Field(
        None, description="CA bundle that signed the gateway's HTTPS certificate (default: the system's)."
    )
    outbox_path: Path = Field(Path("var/edge-outbox.sqlite"), description="Durable outbox (SQLite, WAL).")
    outbox_synchronous: Literal["NORMAL", "FULL"] = Field(
        "NORMAL", description="SQLite sync level: NORMAL survives process crashes, FULL also power loss."
    )
    uplink_batch: int = Field(500, ge=1, le=20000, description="Records per uplink request.")
    uplink_timeout_s: float = Field(10.0, gt=0, description="HTTP timeout of one uplink request.")
    max_payload_bytes: int = Field(256 * 1024, ge=1024, description="Larger MQTT payloads are rejected.")
    outbox_max_mb: float = Field(
        1024.0, gt=0, description="Disk cap of the outbox: above it raw frames are shed oldest-first (counted); "
        "events and alerts are never shed."
    )
    models_dir: Path = Field(RELEASED_DIR, description="Directory of <name>/<name>.tflite + <name>.json models.")
    models: tuple[ModelName, ...] = Field(
        (ModelName.ECG, ModelName.FALL, ModelName.EMOTION, ModelName.VITALS, ModelName.IMAGING),
        description="Models this node runs: only their pipelines run (heart rate and ECG signal quality come with "
        "'ecg'; 'imaging' costs nothing on a node that receives no images); every stream is forwarded either way."
    )
    model_poll_s: float = Field(5.0, gt=0, description="Seconds between checks of models_dir for new versions.")
    batched_inference: bool = Field(True, description="Infer windows of many patients in one call per model.")
    ecg_window_s: float = Field(
        10.0, ge=4, le=60, description="ECG seconds kept per patient: the heart-rate window and the longest span "
        "a run searches (runs normally search only the few recent seconds their unclassified beats need)."
    )
    ecg_hop_s: float = Field(
        0.5, gt=0, le=10, description="Seconds between ECG runs while none finds a new beat (bad signal, no beats); "
        "otherwise runs follow the next expected beat."
    )
    fall_screen_g: float | None = Field(
        None, ge=1.0, description="Impact screen of the fall detector (g): a burst of |acc| above it is an impact "
        "whose window the fall model judges. None: the screen the released model was trained behind "
        "(models.fall_logic); lower values show the model more windows (load tests)."
    )
    hr_interval_s: float = Field(2.0, gt=0, le=60, description="Seconds between heart-rate events per patient.")
    max_batch_messages: int = Field(
        2000, ge=1, le=20000, description="Most messages handled in one processing cycle; after a stall, larger "
        "cycles catch up faster (per-cycle costs are shared) at the price of a longer cycle."
    )
    min_cycle_ms: float = Field(
        20.0, ge=0, le=1000, description="Shortest processing cycle: messages arriving within it are handled "
        "together (cheaper per message, at up to this much added latency); 0 handles them as they come."
    )
    vitals_alert_from: Literal["low_medium", "medium", "high", "off"] = Field(
        "medium", description="Lowest class of the vitals risk model that raises an alert (held for "
        "consecutive windows); lower classes only report. 'off': the vitals model reports, never alerts "
        "(the gateway's NEWS2 alarms stand alone)."
    )
    imaging_per_cycle: int = Field(
        1, ge=1, le=1000, description="Most images the imaging model analyses in one processing cycle (the rest "
        "wait in its queue), so images never hold up the physiological pipelines' events for long."
    )
    imaging_budget_ms: float = Field(
        15.0, ge=0, description="Once this much of a cycle went to images, the rest wait for the next cycle (one "
        "image always runs, so the queue drains)."
    )
    imaging_max_queue: int = Field(
        256, ge=1, le=100_000, description="Images waiting for analysis; past it the oldest is dropped (counted)."
    )
    metrics_port: int | None = Field(None, ge=0, le=65535, description="Serve Prometheus metrics on this port.")
    allow_unencrypted_images: bool = Field(
        False, description="Accept images that are not sealed end to end (legacy devices); refused (dead-lettered) "
        "otherwise. The gateway must allow them too (gateway.imaging.require_encryption = false)."
    )

    @field_validator("node_id", "site")
    @classmethod
    def _ident(cls, value: str) -> str:
        if not is_identifier(value):
            raise ValueError("must be 1-64 letters, digits, '_', '.', '-' and not start with '_'")
        return value

    @field_validator("models")
    @classmethod
    def _once(cls, value: tuple[ModelName, ...]) -> tuple[ModelName, ...]:
        if len(set(value)) != len(value):
            raise ValueError("a model is listed twice")
        return value

    @model_validator(mode="after")
    def _one_token(self) -> EdgeConfig:
        if self.uplink_token is not None and self.uplink_token_file is not None:
            raise ValueError("give uplink_token or uplink_token_file, not both")
        return self

    def uplink_secret(self) -> str | None:
        """The uplink token (read from ``uplink_token_file`` when that is set)."""
        if self.uplink_token is not None:
            return self.uplink_token.get_secret_value()
        if self.uplink_token_file is None:
            return None
        try:
            token = self.uplink_token_file.read_text().strip()
        except OSError as exc:
            raise ConfigError(f"edge uplink_token_file {self.uplink_token_file}: {exc.strerror}") from None
        if not token:
            raise ConfigError(f"edge uplink_token_file {self.uplink_token_file} is empty")
        return token

    @field_validator("gateway_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")
