"""Configuration of the device registry (section ``[registry]``, or ``IOMT_REGISTRY__*``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from gateway.audit import AuditLog
from gateway.registry.dynsec import DynsecDriver
from gateway.registry.records import Principal, RegistryError
from gateway.registry.service import ChangeListener, DeviceRegistry
from gateway.registry.store import SqliteRegistry
from iomt.config import MqttConfig, StrictModel


class RegistryConfig(StrictModel):
    path: Path = Field(Path("var/registry.sqlite"), description="The registry's SQLite file.")
    key_file: Path | None = Field(
        None, description="Master key wrapping device keys (created 0600 on first use; default: beside the "
        "registry file, with the suffix .key; keep it apart from backups of the registry file)."
    )
    broker: Literal["embedded", "dynsec"] = Field(
        "embedded", description="How the broker learns of changes: 'embedded' (the embedded broker reads the "
        "registry itself) or 'dynsec' (mosquitto's dynamic security plugin, driven over MQTT)."
    )
    dynsec: MqttConfig | None = Field(
        None, description="Connection of the dynamic security plugin's admin client (broker 'dynsec')."
    )
    timeout_s: float = Field(10.0, gt=0, le=120, description="How long to wait for the broker to take a change.")
    audit_path: Path | None = Field(
        None, description="Audit log (gateway.audit, hash-chained) that enrolments, rotations and revocations are "
        "appended to, e.g. the gateway's own audit_path; none: changes are not audited."
    )


def open_registry(config: RegistryConfig) -> DeviceRegistry:
    """The registry of ``config`` with its broker driver."""
    driver = None
    if config.broker == "dynsec":
        if config.dynsec is None:
            raise RegistryError("registry.broker = 'dynsec' needs registry.dynsec (the admin client's url, "
                                "username and password)")
        driver = DynsecDriver(config.dynsec, config.timeout_s)
    key_file = config.key_file or config.path.with_suffix(".key")
    registry = DeviceRegistry(SqliteRegistry(config.path, key_file), driver)
    if config.audit_path is not None:
        registry.on_change = audit_changes(AuditLog(config.audit_path))
    return registry


def audit_changes(audit: AuditLog) -> ChangeListener:
    """The registry's change hook appending each change to ``audit`` (no secret: name, kind, site)."""

    def changed(action: str, principal: Principal, actor: str) -> None:
        audit.append(actor, action, principal.name, {"kind": str(principal.kind), "site": principal.site})

    return changed
