"""Device keys for opening sealed images, read from the device registry and kept in memory briefly.

A key version never changes once issued (a rotation adds a new ``key_id``), so a cached key is never
stale; the cache bounds only how long a key removed from the registry still opens images here, and
spares the registry a database read and an unwrap per image. Keys are never logged.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

from gateway.registry.records import Kind, RegistryError
from gateway.registry.service import DeviceRegistry

MAX_CACHED = 4096


class RegistryKeys:
    """A :data:`iomt.wire.envelope.KeyLookup` over the registry (callable as ``keys(device, key_id)``)."""

    def __init__(self, registry: DeviceRegistry, cache_s: float = 300.0) -> None:
        self.registry = registry
        self.cache_s = cache_s
        self._cache: OrderedDict[tuple[str, int], tuple[float, bytes | None]] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, device: str, key_id: int) -> bytes | None:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get((device, key_id))
            if hit is not None and now - hit[0] < (self.cache_s if hit[1] is not None else 5.0):
                return hit[1]
        key = self._read(device, key_id)
        with self._lock:
            self._cache[(device, key_id)] = (now, key)
            self._cache.move_to_end((device, key_id))
            while len(self._cache) > MAX_CACHED:
                self._cache.popitem(last=False)
        return key

    def _read(self, device: str, key_id: int) -> bytes | None:
        principal = self.registry.get(device)
        if principal is None or principal.kind is not Kind.DEVICE:
            return None
        try:
            return self.registry.device_key(device, key_id).key
        except RegistryError:
            return None

    def newest(self, device: str) -> int | None:
        """The newest key version of ``device``, or None when it has none."""
        try:
            return self.registry.device_key(device).key_id
        except RegistryError:
            return None
