"""First-run security for the demo and for compose: a local CA and certificates, an identity with
credentials for every party, and a generated admin password.

Everything goes under one directory (``<demo workdir>/security``, or compose's ``secrets`` volume);
private keys and credentials are written readable by their owner only, and a second run reuses
what exists (enrolling only parties that are new). Layout (see also the README's security section):

========================================  =========================================================
``ca/ca.crt``, ``ca/ca.key``              the local CA; clients trust ``ca.crt``
``broker/broker.crt``, ``.key``           the MQTT broker's TLS certificate (SANs: the broker hosts)
``broker/dynamic-security.json``          mosquitto's dynamic security config (with ``dynsec``)
``gateway/https.crt``, ``.key``           the gateway's HTTPS certificate (SANs: the gateway hosts)
``registry/registry.sqlite``, ``.key``    the device registry and its master key
``registry/registry.toml``                ``[registry]`` config for ``iomt devices --config``
``credentials/edge-<node>.toml``          ``[edge]`` config: node, site, MQTT username/password, CA,
                                          uplink token file, the CA of the gateway's HTTPS
``credentials/edge-<node>.uplink-token``  the edge's uplink token (for the gateway's uplink auth)
``credentials/gateway.toml``              ``[gateway]`` config: MQTT username/password, CA, the user
                                          state file, the registry (edges' uplink tokens; device keys
                                          that open sealed images), HTTPS
``credentials/sim.toml``, ``devices.json`` ``[sim]`` config and each device's username, password, key
``credentials/issued.json``               every secret issued here (a second run reuses them)
``audit/audit.sqlite``                     the audit log (gateway.audit): enrolments here and by ``iomt
                                          devices``, and the gateway's (its ``audit_path``)
``users/state.sqlite``                     the gateway's users (``admin`` first; password *hash* only),
                                          sessions and API tokens (its ``state_path``)
========================================  =========================================================

The admin password itself is returned once (:attr:`Provisioned.admin_password`) and stored nowhere.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.audit import AuditLog
from gateway.auth import ensure_admin
from gateway.registry import pki
from gateway.registry.config import audit_changes
from gateway.registry.dynsec import dynsec_document
from gateway.registry.hashing import hash_secret, new_secret
from gateway.registry.keys import write_private
from gateway.registry.records import ALL_SITES, Issued, Kind, RegistryError
from gateway.registry.service import DeviceRegistry
from gateway.registry.store import SqliteRegistry

log = logging.getLogger(__name__)

LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
#: The dynamic security plugin's admin client: the registry's own identity at mosquitto.
DYNSEC_ADMIN = "iomt-registry"


@dataclass(frozen=True)
class SecurityPlan:
    """Who to enrol and which names the certificates carry."""

    site: str
    edges: Sequence[str]
    devices: Sequence[str]
    gateway: str = "gateway"
    gateway_site: str = ALL_SITES
    broker_hosts: Sequence[str] = LOCAL_HOSTS
    gateway_hosts: Sequence[str] = LOCAL_HOSTS
    #: The broker URL written into the credential files (the demo passes its own with --broker).
    broker_url: str | None = None
    #: Also write mosquitto's dynamic security config and the registry's admin credentials for it.
    dynsec: bool = False
    #: (uid, gid) to give the broker's files (compose: mosquitto runs as 1883:1883).
    broker_owner: tuple[int, int] | None = None


@dataclass(frozen=True)
class Provisioned:
    """Where everything is; ``admin_password`` only on the run that created the admin user."""

    root: Path
    admin_password: str | None = field(default=None, repr=False)
    enrolled: tuple[str, ...] = ()

    @property
    def ca_cert(self) -> Path:
        return self.root / "ca" / "ca.crt"

    @property
    def broker_cert(self) -> Path:
        return self.root / "broker" / "broker.crt"

    @property
    def broker_key(self) -> Path:
        return self.root / "broker" / "broker.key"

    @property
    def dynsec_file(self) -> Path:
        return self.root / "broker" / "dynamic-security.json"

    @property
    def gateway_cert(self) -> Path:
        return self.root / "gateway" / "https.crt"

    @property
    def gateway_key(self) -> Path:
        return self.root / "gateway" / "https.key"

    @property
    def registry(self) -> Path:
        return self.root / "registry" / "registry.sqlite"

    @property
    def registry_key(self) -> Path:
        return self.root / "registry" / "registry.key"

    @property
    def registry_config(self) -> Path:
        return self.root / "registry" / "registry.toml"

    @property
    def credentials(self) -> Path:
        return self.root / "credentials"

    def edge_config(self, node: str) -> Path:
        return self.credentials / f"edge-{node}.toml"

    def edge_token(self, node: str) -> Path:
        return self.credentials / f"edge-{node}.uplink-token"

    @property
    def gateway_config(self) -> Path:
        return self.credentials / "gateway.toml"

    @property
    def sim_config(self) -> Path:
        return self.credentials / "sim.toml"

    @property
    def devices_file(self) -> Path:
        return self.credentials / "devices.json"

    @property
    def issued(self) -> Path:
        """Every secret issued here (so a second run reuses them); the per-party files derive from it."""
        return self.credentials / "issued.json"

    @property
    def audit_log(self) -> Path:
        """The audit log the gateway, the registry commands and provisioning append to."""
        return self.root / "audit" / "audit.sqlite"

    @property
    def user_state(self) -> Path:
        """The gateway's user store (:class:`gateway.auth.UserStore`; the gateway's ``state_path``)."""
        return self.root / "users" / "state.sqlite"

    def mqtt_credentials(self, name: str) -> tuple[str, str]:
        """(username, password) of ``name`` from its credentials file."""
        secrets_ = _read_json(self.issued)
        if name not in secrets_:
            raise RegistryError(f"no credentials for {name!r} under {self.credentials}")
        return name, str(secrets_[name]["password"])


def provision(root: Path, plan: SecurityPlan) -> Provisioned:
    """Create what is missing under ``root`` for ``plan`` (see the module docstring)."""
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o700)
    out = Provisioned(root)
    _certificates(out, plan)
    out.audit_log.parent.mkdir(exist_ok=True)
    os.chmod(out.audit_log.parent, 0o700)
    audit = AuditLog(out.audit_log)
    os.chmod(out.audit_log, 0o600)
    registry = DeviceRegistry(SqliteRegistry(out.registry, out.registry_key), on_change=audit_changes(audit))
    secrets_: dict[str, dict[str, Any]] = _read_json(out.issued)
    wanted: list[tuple[str, Kind, str]] = [(plan.gateway, Kind.GATEWAY, plan.gateway_site)]
    wanted += [(node, Kind.EDGE, plan.site) for node in plan.edges]
    wanted += [(device, Kind.DEVICE, plan.site) for device in plan.devices]
    enrolled = []
    for name, kind, site in wanted:
        current = registry.get(name)
        if current is not None and not current.active:
            raise RegistryError(f"{name!r} was revoked in {out.registry}; the demo will not reinstate it "
                                "(use another --workdir, or remove it from the plan)")
        if current is not None and (current.kind is not kind or current.site != site):
            raise RegistryError(f"{name!r} is enrolled as a {current.kind} of site {current.site}, not a {kind} of "
                                f"{site}; use another --workdir")
        if current is not None and name in secrets_:
            continue
        issued = registry.enrol(name, kind, site) if current is None else registry.rotate(name)
        secrets_[name] = _entry(issued)
        enrolled.append(name)
    _write_json_private(out.issued, secrets_)
    admin_password = _admin(out)
    if admin_password is not None:
        audit.append("system", "user.add", "user:admin", {"role": "admin"})
    audit.close()
    dynsec_admin_password = _dynsec_admin(out, plan, changed=bool(enrolled))
    _credential_files(out, plan, secrets_, dynsec_admin_password)
    if plan.broker_owner is not None:
        _chown_broker(out, plan.broker_owner)
    if enrolled:
        log.info("enrolled %d identities under %s", len(enrolled), root)
    return Provisioned(root, admin_password, tuple(enrolled))


def _entry(issued: Issued) -> dict[str, Any]:
    entry: dict[str, Any] = {"kind": str(issued.principal.kind), "site": issued.principal.site,
                             "password": issued.password}
    if issued.uplink_token is not None:
        entry["uplink_token"] = issued.uplink_token
    if issued.device_key is not None:
        entry["key_id"] = issued.device_key.key_id
        entry["key"] = issued.device_key.key.hex()
    return entry


def _certificates(out: Provisioned, plan: SecurityPlan) -> None:
    ca_key = out.root / "ca" / "ca.key"
    if out.ca_cert.exists() and ca_key.exists():
        ca = pki.KeyPair.read(out.ca_cert, ca_key)
    else:
        ca = pki.create_ca()
        ca.write(out.ca_cert, ca_key)
    if not out.broker_cert.exists():
        pki.issue(ca, "iomt MQTT broker", server_names=list(plan.broker_hosts)).write(out.broker_cert, out.broker_key)
    if not out.gateway_cert.exists():
        pki.issue(ca, "iomt gateway", server_names=list(plan.gateway_hosts)).write(out.gateway_cert, out.gateway_key)


def _admin(out: Provisioned) -> str | None:
    """Create the gateway's ``admin`` user (hash only) while it has no user; its password, once."""
    out.user_state.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(out.user_state.parent, 0o700)
    return ensure_admin(out.user_state)


def _dynsec_admin(out: Provisioned, plan: SecurityPlan, *, changed: bool) -> str | None:
    """With ``plan.dynsec``: the registry's admin password at mosquitto, and the plugin's JSON
    (rewritten from the registry, its source of truth, whenever an identity was added)."""
    if not plan.dynsec:
        return None
    secret_file = out.root / "registry" / ".dynsec-admin"
    if secret_file.exists():
        password = secret_file.read_text().strip()
    else:
        password = new_secret()
        write_private(secret_file, password.encode())
        changed = True
    if changed or not out.dynsec_file.exists():
        document = dynsec_document(DYNSEC_ADMIN, hash_secret(password),
                                   SqliteRegistry(out.registry).password_hashes())
        _write_json_private(out.dynsec_file, document)
    return password


def _credential_files(
    out: Provisioned, plan: SecurityPlan, secrets_: dict[str, dict[str, Any]], dynsec_password: str | None
) -> None:
    tls = {"ca_file": str(out.ca_cert)}

    def mqtt(name: str) -> dict[str, Any]:
        section: dict[str, Any] = {"username": name, "password": secrets_[name]["password"]}
        if plan.broker_url:
            section["url"] = plan.broker_url
        return section

    for node in plan.edges:
        edge = {"node_id": node, "site": plan.site, "uplink_token_file": str(out.edge_token(node)),
                "gateway_ca_file": str(out.ca_cert), "mqtt": mqtt(node)}
        _write_toml(out.edge_config(node), {"edge": edge}, {"edge.mqtt.tls": tls})
        write_private(out.edge_token(node), (secrets_[node]["uplink_token"] + "\n").encode())
    # the gateway's registry API enrols and revokes at the broker by the same driver as `iomt devices`
    # (with mosquitto: its dynamic security admin, whose password the gateway's container holds already)
    broker_driver = _registry_broker(plan, dynsec_password)
    # the registry also holds the device keys that open images sealed end to end (and go to the edges of
    # their site)
    gateway = {"site": plan.gateway_site, "state_path": str(out.user_state), "audit_path": str(out.audit_log),
               "mqtt": mqtt(plan.gateway),
               "registry": {"path": str(out.registry), "key_file": str(out.registry_key), **broker_driver},
               "tls": {"cert_file": str(out.gateway_cert), "key_file": str(out.gateway_key)}}
    _write_toml(out.gateway_config, {"gateway": gateway},
                {"gateway.mqtt.tls": tls, **({"gateway.registry.dynsec.tls": tls} if broker_driver else {})})
    sim: dict[str, Any] = {"site": plan.site, "device_credentials": str(out.devices_file)}
    if plan.broker_url:
        sim["mqtt"] = {"url": plan.broker_url}
    _write_toml(out.sim_config, {"sim": sim}, {"sim.mqtt.tls": tls})
    devices = {d: {"username": d, "password": secrets_[d]["password"], "key_id": secrets_[d].get("key_id"),
                   "key": secrets_[d].get("key")} for d in plan.devices}
    _write_json_private(out.devices_file, {"devices": devices})
    registry: dict[str, Any] = {"path": str(out.registry), "key_file": str(out.registry_key),
                                "audit_path": str(out.audit_log), **broker_driver}
    _write_toml(out.registry_config, {"registry": registry},
                {"registry.dynsec.tls": tls} if dynsec_password is not None else {})


def _registry_broker(plan: SecurityPlan, dynsec_password: str | None) -> dict[str, Any]:
    """The ``broker``/``dynsec`` keys of a ``[registry]`` section (none: the embedded broker reads the registry)."""
    if dynsec_password is None:
        return {}
    dynsec: dict[str, Any] = {"username": DYNSEC_ADMIN, "password": dynsec_password}
    if plan.broker_url:
        dynsec["url"] = plan.broker_url
    return {"broker": "dynsec", "dynsec": dynsec}


def _chown_broker(out: Provisioned, owner: tuple[int, int]) -> None:
    """The broker (another user in compose) reads its certificate and key and writes its dynsec file."""
    broker_dir = out.root / "broker"
    os.chmod(out.root, 0o711)  # traverse only: the broker reaches broker/ and ca/, lists nothing
    for path in [broker_dir, *broker_dir.iterdir()]:
        os.chown(path, *owner)
    os.chmod(out.ca_cert.parent, 0o711)
    os.chmod(out.ca_cert, 0o644)


def _read_json(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except ValueError as exc:
        raise RegistryError(f"{path} is not valid JSON ({exc}); remove it to regenerate the credentials") from None
    return data if isinstance(data, dict) else {}


def _write_json_private(path: Path, data: object) -> None:
    write_private(path, (json.dumps(data, indent=2) + "\n").encode())


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string


def _write_toml(path: Path, tables: dict[str, dict[str, Any]], extra: dict[str, dict[str, Any]]) -> None:
    """Write nested ``tables`` (one level of sub-tables) and dotted ``extra`` tables, 0600."""
    lines: list[str] = []

    def emit(name: str, table: dict[str, Any]) -> None:
        lines.append(f"[{name}]")
        lines.extend(f"{k} = {_toml_value(v)}" for k, v in table.items() if not isinstance(v, dict))
        lines.append("")
        for key, sub in table.items():
            if isinstance(sub, dict):
                emit(f"{name}.{key}", sub)

    for name, table in tables.items():
        emit(name, table)
    for name, table in extra.items():
        emit(name, table)
    write_private(path, "\n".join(lines).encode())
