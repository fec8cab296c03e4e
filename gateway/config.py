"""Configuration of the gateway (section ``[gateway]`` of a TOML file, or ``IOMT_GATEWAY__*``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from iomt.config import MqttConfig, StrictModel


class GatewayConfig(StrictModel):
    host: str = Field("127.0.0.1", description="Address the HTTP server binds to (0.0.0.0 for all).")
    port: int = Field(8080, ge=0, le=65535, description="HTTP port of the API and dashboard (0 picks a free one).")
    db_path: Path = Field(Path("var/gateway.sqlite"), description="SQLite store file.")
    site: str = Field("+", description="Site to follow on MQTT for availability and dead letters ('+' for all).")
    mqtt: MqttConfig | None = Field(
        None, description="Broker to follow for edge availability and dead letters; none disables it."
    )
    max_uplink_bytes: int = Field(64 * 1024 * 1024, ge=1024, description="Largest uplink batch accepted.")
