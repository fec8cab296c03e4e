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


class StationConfig(StrictModel):
    """The central station: vitals alarms, technical alarms and the page's escalation (gateway.station)."""

    news2_enter_readings: int = Field(
        3, ge=1, le=100, description="Consecutive readings in a higher NEWS2 band before its alert is raised.")
    news2_leave_readings: int = Field(
        5, ge=1, le=100, description="Consecutive readings in a lower NEWS2 band before the alert follows it down.")
    limit_enter_readings: int = Field(
        3, ge=1, le=100, description="Consecutive readings past an alarm limit before its alert is raised.")
    limit_leave_readings: int = Field(
        5, ge=1, le=100, description="Consecutive readings back inside a limit (by its deadband) before it clears.")
    no_data_after_s: float = Field(
        15.0, gt=0, le=3600, description="A stream silent this long (at least 5 of its usual gaps) is 'no data'.")
    stale_after_s: float = Field(15.0, gt=0, le=3600, description="Numerics older than this are shown stale.")
    escalate_after_s: float = Field(
        60.0, gt=0, le=3600, description="An alarm not acknowledged within this many seconds is escalated.")
    tick_s: float = Field(1.0, gt=0, le=60, description="How often no-data and edge-offline alarms are evaluated.")
    battery_low_pct: float = Field(20.0, gt=0, lt=100, description="Battery below this: battery_low (low priority).")
    battery_critical_pct: float = Field(
        10.0, gt=0, lt=100, description="Battery below this: battery_critical (medium priority).")
    ecg_hr_fresh_s: float = Field(
        10.0, gt=0, le=300,
        description="Heart-rate limits use the edge's ECG heart rate when one came this recently, else the pulse.")


class AuthConfig(StrictModel):
    """People and machines at the API (:mod:`gateway.auth`): sessions, tokens, lockout, origins."""

    session_idle_s: float = Field(
        1800.0, gt=0, description="A browser session ends after this long without a request (the dashboard's "
        "polling counts as activity, so an open page stays signed in up to session_max_s)."
    )
    session_max_s: float = Field(12 * 3600.0, gt=0, description="A browser session ends this long after login.")
    token_ttl_s: float = Field(
        30 * 86_400.0, gt=0, description="Default lifetime of an API token from POST /api/v1/tokens."
    )
    token_max_ttl_s: float = Field(365 * 86_400.0, gt=0, description="Longest lifetime an API token may ask for.")
    max_failures: int = Field(
        5, ge=1, le=100, description="Failed logins in a row after which the user name is locked for lockout_s."
    )
    lockout_s: float = Field(
        60.0, gt=0, description="First lockout; each further lockout of the same name doubles it (up to 15 min)."
    )
    attempts_per_minute: int = Field(
        20, ge=1, le=10_000, description="Login and token requests accepted per client address per minute."
    )
    allowed_origins: tuple[str, ...] = Field(
        (), description="Origins (scheme://host:port) besides the gateway's own that may open the WebSocket and "
        "send state-changing requests (e.g. a reverse proxy's public address)."
    )
    metrics_token: SecretStr | None = Field(
        None, description="Bearer token a Prometheus scraper presents for /metrics (admins may read it too); "
        "never logged."
    )


class HttpsConfig(StrictModel):
    """Serve HTTPS instead of HTTP (the demo's certificates from `iomt security init`, or any)."""

    cert_file: Path = Field(description="PEM certificate chain of the gateway (server first).")
    key_file: Path = Field(description="PEM private key of the certificate.")


class LimitsConfig(StrictModel):
    """How much request body the gateway holds at once (a few large uploads must not exhaust its memory)."""

    json_body_bytes: int = Field(
        64 * 1024, ge=1024, description="Largest body of a JSON API request (login, alert actions, users)."
    )
    large_body_bytes: int = Field(
        1024 * 1024, ge=1024, description="An uplink body above this size (or of unknown size) is 'large'."
    )
    concurrent_large_bodies: int = Field(
        2, ge=0, le=1000, description="Large bodies handled at once; further ones wait (0: no limit)."
    )
    large_body_wait_s: float = Field(
        5.0, ge=0, le=300, description="How long a large body waits for its turn before the gateway answers 503 "
        "with Retry-After (the edge retries)."
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
    state_path: Path | None = Field(
        None, description="SQLite file of the gateway's relational state: users, sessions, edge tokens, the patient "
        "registry, alarm limits (default: state.sqlite beside db_path)."
    )
    audit_path: Path | None = Field(
        None, description="SQLite file of the hash-chained audit log (default: audit.sqlite beside db_path)."
    )
    auth: AuthConfig = Field(default_factory=AuthConfig, description="Authentication of people and edges.")
    registry: RegistryConfig | None = Field(
        None, description="Device registry whose enrolled edges' uplink tokens the uplink accepts (and which "
        "it audits), and whose device keys open end-to-end encrypted images (and go to the edges of their site); "
        "none: the edge tokens in the state file (`iomt edge-tokens`), and encrypted images are refused."
    )
    imaging: ImagingConfig = Field(default_factory=ImagingConfig, description="The image store.")
    tls: HttpsConfig | None = Field(None, description="Serve HTTPS with this certificate; none serves HTTP.")
    limits: LimitsConfig = Field(default_factory=LimitsConfig, description="Request body limits.")
    station: StationConfig = Field(default_factory=StationConfig, description="The central station.")

    def state_file(self) -> Path:
        """Where users, sessions, edge tokens, the patient registry and alarm limits live (relational state,
        whichever time-series backend)."""
        return self.state_path if self.state_path is not None else self.db_path.parent / "state.sqlite"

    def audit_file(self) -> Path:
        """Where the audit log lives."""
        return self.audit_path if self.audit_path is not None else self.db_path.parent / "audit.sqlite"
