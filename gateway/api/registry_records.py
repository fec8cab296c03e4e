"""The records the device registry's API answers with (serialised, and their schemas derived, by
:mod:`gateway.serde`). Only :class:`IssuedCredentials` carries secrets: the one answer to an
enrolment or a rotation that hands them out; the registry keeps only their hashes."""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.registry.records import Issued, Kind, Principal, Status


@dataclass(frozen=True, slots=True)
class RegistryEntry:
    """An enrolled device, edge or gateway and its state, never its secrets. ``generation`` counts its
    credential changes (1 on enrolment); times are epoch seconds."""

    name: str
    kind: Kind
    site: str
    status: Status
    generation: int
    created_at: float
    updated_at: float
    revoked_at: float | None

    @classmethod
    def of(cls, principal: Principal) -> RegistryEntry:
        return cls(principal.name, principal.kind, principal.site, principal.status, principal.generation,
                   principal.created_at, principal.updated_at, principal.revoked_at)


@dataclass(frozen=True, slots=True)
class IssuedCredentials:
    """Credentials from an enrolment or a rotation, answered once (store them now; the registry keeps
    only hashes). ``mqtt_username``/``mqtt_password`` sign in at the broker; ``uplink_token`` (edges)
    at the gateway's uplink; ``device_key`` (devices, hex) is the end-to-end key of version
    ``device_key_id``, when one was issued."""

    name: str
    kind: Kind
    site: str
    generation: int
    mqtt_username: str
    mqtt_password: str = field(repr=False)
    uplink_token: str | None = field(default=None, repr=False)
    device_key_id: int | None = None
    device_key: str | None = field(default=None, repr=False)

    @classmethod
    def of(cls, issued: Issued) -> IssuedCredentials:
        p, key = issued.principal, issued.device_key
        return cls(p.name, p.kind, p.site, p.generation, p.username, issued.password, issued.uplink_token,
                   key.key_id if key is not None else None, key.key.hex() if key is not None else None)
