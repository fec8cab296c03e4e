"""Typed configuration: one root model per tier, loaded from a TOML file and the environment.

Precedence, lowest first: defaults, the TOML file, environment variables, command-line overrides.
Environment variables are ``IOMT_<TIER>__<FIELD>__<SUBFIELD>`` (e.g. ``IOMT_EDGE__MQTT__URL``);
this module is the only place that reads them, and only from the mapping it is handed.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

T = TypeVar("T", bound=BaseModel)
#: A config field whose dotted name contains one of these holds a secret: its value is never shown.
SECRET_WORDS = ("password", "token", "secret")


class ConfigError(ValueError):
    """A configuration value is wrong; the message lists every bad field and what it expects."""


class StrictModel(BaseModel):
    """Base for config models: unknown keys are errors (a typo must not be silently ignored)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class TlsConfig(StrictModel):
    enabled: bool = Field(False, description="Connect with TLS (use an mqtts:// URL or set this).")
    ca_file: Path | None = Field(None, description="CA bundle that signed the broker's certificate.")
    cert_file: Path | None = Field(None, description="Client certificate for mutual TLS.")
    key_file: Path | None = Field(None, description="Private key of the client certificate.")
    insecure: bool = Field(False, description="Skip hostname verification (testing only).")


class MqttConfig(StrictModel):
    url: str = Field("mqtt://127.0.0.1:1883", description="Broker URL, mqtt://host:port or mqtts://host:port.")
    username: str | None = Field(None, description="MQTT username, if the broker enforces authentication.")
    password: SecretStr | None = Field(None, description="MQTT password (never logged).")
    tls: TlsConfig = Field(default_factory=TlsConfig, description="TLS settings.")
    keepalive_s: int = Field(30, ge=5, le=3600, description="MQTT keep-alive interval.")
    reconnect_max_s: float = Field(4.0, gt=0, le=30, description="Cap of the reconnect backoff.")
    max_inflight: int = Field(1000, ge=1, le=65535, description="Unacknowledged QoS 1 messages in flight.")

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
            raise ValueError(f"scheme must be mqtt:// or mqtts://, got {value!r}")
        if not parts.hostname:
            raise ValueError(f"no host in {value!r}")
        try:
            port = parts.port
        except ValueError:
            raise ValueError(f"bad port in {value!r}") from None
        if port is not None and not 0 < port < 65536:
            raise ValueError(f"bad port in {value!r}")
        return value

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or (8883 if self.use_tls else 1883)

    @property
    def use_tls(self) -> bool:
        return self.tls.enabled or urlsplit(self.url).scheme in ("mqtts", "ssl")


def load_config(
    model: type[T],
    tier: str,
    *,
    path: Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> T:
    """Build and validate ``model`` from defaults, a TOML file, ``env`` and ``overrides``.

    ``overrides`` uses dotted keys (``{"mqtt.url": "..."}``); ``None`` values are ignored so that
    unset command-line options leave lower layers alone.
    """
    data: dict[str, Any] = {}
    if path is not None:
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
        data = data.get(tier, data)
    prefix = f"IOMT_{tier.upper()}__"
    for key, value in (env or {}).items():
        if key.startswith(prefix):
            _set_dotted(data, key[len(prefix):].lower().replace("__", "."), value)
    for key, value in (overrides or {}).items():
        if value is not None:
            _set_dotted(data, key, value)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(tier, model, exc)) from None


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    node = data
    for key in keys[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = {}
            node[key] = child
        node = child
    node[keys[-1]] = value


def _format_errors(tier: str, model: type[BaseModel], exc: ValidationError) -> str:
    lines = [f"invalid {tier} configuration:"]
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        hint = _describe(model, [str(p) for p in err["loc"]])
        value = err.get("input")
        shown = "***" if any(word in loc for word in SECRET_WORDS) else repr(value)
        extra = f" ({hint})" if hint else ""
        lines.append(f"  {loc} = {shown}: {err['msg']}{extra}")
    return "\n".join(lines)


def _describe(model: type[BaseModel], loc: list[str]) -> str | None:
    current: Any = model
    description = None
    for part in loc:
        fields = getattr(current, "model_fields", None)
        if not fields or part not in fields:
            return description
        info = fields[part]
        description = info.description
        current = info.annotation
    return description
