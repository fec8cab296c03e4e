"""Keeping a broker in step with the registry: the interface, and the driver for a broker that
reads the registry itself.

A driver is told about each enrolment, rotation and revocation *as it happens* (see
:class:`gateway.registry.service.DeviceRegistry` for the order); revocation must take effect on the
running broker, without a restart, and must disconnect a client that is connected.
"""

from __future__ import annotations

from typing import Protocol

from gateway.registry.records import Principal, RegistryError


class BrokerSyncError(RegistryError):
    """The broker did not take a change; the message names the broker, the change and its answer."""


class BrokerDriver(Protocol):
    """What the registry needs from a broker."""

    #: Shown in messages, e.g. "mosquitto dynamic security at mqtts://broker:8883".
    description: str

    def enrol(self, principal: Principal, password: str) -> None:
        """Create ``principal`` with ``password`` and the grants of :func:`gateway.registry.acl.rules_for`."""
        ...

    def set_password(self, principal: Principal, password: str) -> None:
        """Replace the password (a client connected with the old one is disconnected)."""
        ...

    def revoke(self, principal: Principal) -> None:
        """Remove ``principal`` and disconnect it if connected; a no-op if the broker does not know it."""
        ...


class RegistryBackedBroker:
    """A broker that authenticates against the registry itself (the embedded broker's plugin
    watches :meth:`gateway.registry.store.SqliteRegistry.version`), so there is nothing to push."""

    description = "a broker reading the registry directly"

    def enrol(self, principal: Principal, password: str) -> None:
        return None

    def set_password(self, principal: Principal, password: str) -> None:
        return None

    def revoke(self, principal: Principal) -> None:
        return None
