"""The device registry: who may talk to the broker, with which credentials, on which topics.

* :mod:`records` — principals (devices, edges, gateways), issued secrets, device keys.
* :mod:`service` — :class:`DeviceRegistry`: enrol, rotate, revoke, list; ``authenticate``,
  ``verify_edge_token``, ``device_key`` (what the gateway API calls).
* :mod:`store` — the SQLite records; :mod:`hashing` and :mod:`keys` — how secrets are kept.
* :mod:`acl` — the topic grants of each kind, enforced by both brokers.
* :mod:`brokers`, :mod:`dynsec` — keeping a broker in step (mosquitto's dynamic security plugin).
* :mod:`pki` — a local CA and certificates.
* :mod:`config` — :class:`RegistryConfig` and :func:`open_registry`.
"""

from gateway.registry.records import DeviceKey, Issued, Kind, Principal, RegistryError, Status

__all__ = ["DeviceKey", "Issued", "Kind", "Principal", "RegistryError", "Status"]
