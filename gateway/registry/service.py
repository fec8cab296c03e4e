"""The device registry: enrol, rotate, revoke and list devices, edges and gateways, keeping the
broker in step. This is what the ``iomt devices`` command and the gateway's API call.

Order of each change, so a failure never leaves a party able to do more than the registry says:

* enrol: the broker first, then the registry (if the broker refuses, nothing was recorded; if the
  registry then fails, the broker entry is removed again);
* rotate: the broker first (the old password stops working there), then the registry;
* revoke: the registry first (the embedded broker and the gateway refuse it at once), then the
  broker (which disconnects it). If the broker is unreachable the revocation still stands in the
  registry and the error says to run ``iomt devices sync`` when the broker is back.

Secrets are generated here, returned once in :class:`Issued`, stored only as hashes (the device
key wrapped under the master key) and never logged.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable

from gateway.registry.brokers import BrokerDriver, BrokerSyncError, RegistryBackedBroker
from gateway.registry.hashing import hash_secret, new_secret
from gateway.registry.keys import KEY_BYTES
from gateway.registry.records import (
    DeviceKey,
    Issued,
    Kind,
    Principal,
    RegistryError,
    Status,
    check_name,
    check_site,
)
from gateway.registry.store import TOKEN_SEPARATOR, SqliteRegistry

log = logging.getLogger(__name__)

#: Called after each change with ("device.enrol" | "device.rotate" | "device.revoke", the principal,
#: the actor who asked): the audit log's hook, e.g.
#: ``lambda action, p, actor: audit.append(actor, action, p.name, {"kind": p.kind, "site": p.site})``.
ChangeListener = Callable[[str, Principal, str], None]
#: The actor of a change made without one (the command line passes its user).
SYSTEM = "system"


class DeviceRegistry:
    """Devices, edges and gateways with their broker credentials (see the module docstring)."""

    def __init__(
        self, store: SqliteRegistry, broker: BrokerDriver | None = None, *, on_change: ChangeListener | None = None
    ) -> None:
        self.store = store
        self.broker: BrokerDriver = broker or RegistryBackedBroker()
        self.on_change = on_change

    # -- changes ---------------------------------------------------------------------------------
    def enrol(self, name: str, kind: Kind | str, site: str, *, device_key: bool = True, actor: str = SYSTEM) -> Issued:
        """Enrol ``name`` as a ``kind`` of ``site``: an MQTT password, plus an uplink token for an edge
        and (unless ``device_key`` is false) an end-to-end key for a device. Returned once."""
        kind = Kind(kind)
        check_name(name)
        check_site(site, kind)
        if (existing := self.store.get(name)) is not None:
            raise RegistryError(
                f"{name!r} is already enrolled (a {existing.kind}, {existing.status}); names are never reused — "
                "rotate its credentials, or enrol under another name"
            )
        password = new_secret()
        token_secret = new_secret() if kind is Kind.EDGE else None
        now = time.time()
        preview = Principal(name, kind, site, Status.ACTIVE, now, now)
        self.broker.enrol(preview, password)
        try:
            principal = self.store.add(name, kind, site, hash_secret(password),
                                       hash_secret(token_secret) if token_secret else None)
            key = self.store.add_device_key(name, secrets.token_bytes(KEY_BYTES)) \
                if kind is Kind.DEVICE and device_key else None
        except BaseException:
            self._undo_enrol(preview)
            raise
        log.info("enrolled %s %s (site %s)", kind, name, site)
        self._changed("device.enrol", principal, actor)
        return Issued(principal, password, self._token(name, token_secret), key)

    def rotate(self, name: str, *, new_device_key: bool = False, actor: str = SYSTEM) -> Issued:
        """New MQTT password (and uplink token, for an edge; and with ``new_device_key`` a new device
        key version — older versions stay readable). The old password stops working at once."""
        current = self.store.require(name)
        if not current.active:
            raise RegistryError(f"{name!r} is revoked; a revoked identity cannot get new credentials")
        password = new_secret()
        token_secret = new_secret() if current.kind is Kind.EDGE else None
        self.broker.set_password(current, password)
        principal = self.store.set_credentials(name, hash_secret(password),
                                               hash_secret(token_secret) if token_secret else None)
        key = None
        if new_device_key:
            if principal.kind is not Kind.DEVICE:
                raise RegistryError(f"{name!r} is a {principal.kind}: only devices have keys")
            key = self.store.add_device_key(name, secrets.token_bytes(KEY_BYTES))
        log.info("rotated the credentials of %s %s", principal.kind, name)
        self._changed("device.rotate", principal, actor)
        return Issued(principal, password, self._token(name, token_secret), key)

    def revoke(self, name: str, *, actor: str = SYSTEM) -> Principal:
        """Revoke ``name`` everywhere; a connected client is disconnected. Idempotent."""
        principal = self.store.revoke(name)
        log.info("revoked %s %s", principal.kind, name)
        self._changed("device.revoke", principal, actor)
        try:
            self.broker.revoke(principal)
        except BrokerSyncError as exc:
            raise BrokerSyncError(
                f"{name!r} is revoked in the registry, but {exc}; run `iomt devices sync` once the broker is back"
            ) from None
        return principal

    def sync(self) -> list[Principal]:
        """Push every revocation to the broker again (after it was unreachable); the revoked principals."""
        revoked = [p for p in self.store.principals() if not p.active]
        for principal in revoked:
            self.broker.revoke(principal)
        return revoked

    # -- reads -----------------------------------------------------------------------------------
    def get(self, name: str) -> Principal | None:
        return self.store.get(name)

    def list(self, kind: Kind | str | None = None, site: str | None = None, *,
             include_revoked: bool = True) -> list[Principal]:
        return self.store.principals(Kind(kind) if kind else None, site, include_revoked=include_revoked)

    def authenticate(self, username: str, password: str) -> Principal | None:
        """The active principal if ``password`` is its MQTT password."""
        return self.store.authenticate(username, password)

    def verify_edge_token(self, token: str) -> Principal | None:
        """The active edge whose uplink token this is (for the gateway's uplink), else None."""
        return self.store.verify_edge_token(token)

    def device_key(self, device: str, key_id: int | None = None) -> DeviceKey:
        """A device's end-to-end key (its newest, or version ``key_id``), to open what it sealed."""
        return self.store.device_key(device, key_id)

    # -- helpers ---------------------------------------------------------------------------------
    @staticmethod
    def _token(name: str, secret: str | None) -> str | None:
        return f"{name}{TOKEN_SEPARATOR}{secret}" if secret else None

    def _undo_enrol(self, preview: Principal) -> None:
        try:
            self.broker.revoke(preview)
        except BrokerSyncError:
            log.warning("could not remove %s from %s after a failed enrolment", preview.name, self.broker.description)
        self.store.delete(preview.name)

    def _changed(self, action: str, principal: Principal, actor: str) -> None:
        if self.on_change is not None:
            self.on_change(action, principal, actor)
