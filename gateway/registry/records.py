"""What the registry knows about a party that talks to the broker, and what it hands out once.

Every party has one identity, its *name*, which is also its MQTT username (and, on both brokers we
run, its MQTT client id): a device's name is the device id in its topics, an edge's name its node
id, the gateway's name whatever it was enrolled as. Names are unique across kinds, so an edge can
never be enrolled under a device's name and inherit its topics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from iomt.wire.topics import is_identifier

#: The site of a principal that may act on every site (a gateway following all of them).
ALL_SITES = "+"


class RegistryError(ValueError):
    """A registry operation was refused; the message says what is wrong and what to do."""


class Kind(StrEnum):
    """What a principal is; it decides the topics it may use (see :mod:`gateway.registry.acl`)."""

    DEVICE = "device"
    EDGE = "edge"
    GATEWAY = "gateway"


class Status(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"


@dataclass(frozen=True, slots=True)
class Principal:
    """A registered party. ``generation`` counts its credential changes (1 on enrolment)."""

    name: str
    kind: Kind
    site: str
    status: Status
    created_at: float
    updated_at: float
    revoked_at: float | None = None
    generation: int = 1

    @property
    def active(self) -> bool:
        return self.status is Status.ACTIVE

    @property
    def username(self) -> str:
        return self.name

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name, "kind": str(self.kind), "site": self.site, "status": str(self.status),
            "created_at": self.created_at, "updated_at": self.updated_at, "revoked_at": self.revoked_at,
            "generation": self.generation,
        }


@dataclass(frozen=True, slots=True)
class DeviceKey:
    """A device's symmetric key (AES-256-GCM / ChaCha20-Poly1305 size) for end-to-end encryption
    of what it sends; ``key_id`` tells its versions apart, so data sealed with an older key can
    still be opened after a rotation."""

    device: str
    key_id: int
    key: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class Issued:
    """Secrets issued by an enrolment or a rotation: shown once, never stored in clear, never logged.

    ``password`` is the MQTT password; ``uplink_token`` (edges) authenticates the edge to the
    gateway's uplink; ``device_key`` (devices) is the end-to-end key, when one was issued.
    """

    principal: Principal
    password: str = field(repr=False)
    uplink_token: str | None = field(default=None, repr=False)
    device_key: DeviceKey | None = field(default=None, repr=False)


def check_name(name: str) -> str:
    """``name`` if it can be a principal (and so a topic level); :class:`RegistryError` otherwise."""
    if not isinstance(name, str) or not is_identifier(name):
        raise RegistryError(
            f"invalid name {name!r}: use 1-64 letters, digits, '_', '.', '-', not starting with '_' "
            "(it becomes the MQTT username and a topic level)"
        )
    return name


def check_site(site: str, kind: Kind) -> str:
    """``site`` if valid for ``kind`` (only a gateway may have every site, ``+``)."""
    if site == ALL_SITES:
        if kind is not Kind.GATEWAY:
            raise RegistryError(f"only a gateway may follow every site ('{ALL_SITES}'); give the {kind}'s site")
        return site
    if not isinstance(site, str) or not is_identifier(site):
        raise RegistryError(f"invalid site {site!r}: use 1-64 letters, digits, '_', '.', '-'")
    return site
