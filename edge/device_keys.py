"""The device keys an edge needs to open its site's sealed images, fetched from the gateway.

Why from the gateway rather than a file provisioned onto the edge: the keys' one custodian is the device
registry behind the gateway, so a rotated key (``iomt devices rotate --new-key``: a new ``key_id``), a
newly enrolled device or a revoked one reaches the edge without re-provisioning or restarting it;
every release is checked (the edge's own site only) and audited there; and the keys live only in
this process's memory, never in another file on the edge. The edge authenticates with its uplink
token (``Authorization: Bearer``), over HTTPS where the gateway serves it.

:class:`EdgeKeyRing` is a :data:`iomt.wire.envelope.KeyLookup`: the worker asks it for a key and never
waits on the network — a key it does not hold yet answers ``None`` at once and is fetched by a
background thread (at most every few seconds per key while the gateway does not give it). Meanwhile the
image is forwarded still sealed (the gateway opens it) and analysed once the key is here. Keys are
fetched only for devices whose images arrive, one (device, key version) at a time, so the edge holds
no more keys than it uses (the gateway can also hand out all of a site's keys at once:
:meth:`DeviceKeyClient.fetch` without a device).
"""

from __future__ import annotations

import http.client
import json
import logging
import ssl
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

log = logging.getLogger(__name__)

KEYS_PATH = "/api/v1/edge/device-keys"
#: Least seconds between two fetches of the same missing key.
RETRY_S = 5.0
#: Most missing keys remembered for fetching (bounded: key ids are read from the wire).
MAX_WANTED = 1024


class KeyFetchError(RuntimeError):
    """The gateway did not hand out keys (unreachable, refused the token, no registry); says which."""


class DeviceKeyClient:
    """``GET /api/v1/edge/device-keys`` with the edge's uplink token."""

    def __init__(self, base_url: str, token: str, timeout_s: float = 10.0, ca_file: Path | None = None) -> None:
        parts = urlsplit(base_url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or (443 if self._https else 80)
        self._timeout = timeout_s
        self._context = ssl.create_default_context(cafile=ca_file) if self._https else None
        self.__authorization = f"Bearer {token}"

    def __repr__(self) -> str:  # never the token
        return f"DeviceKeyClient({'https' if self._https else 'http'}://{self._host}:{self._port})"

    def fetch(self, device: str | None = None, key_id: int | None = None) -> list[tuple[str, int, bytes]]:
        """``(device, key_id, key)`` of the site's devices (each one's newest), or of one device/version."""
        query = {k: str(v) for k, v in (("device", device), ("key_id", key_id)) if v is not None}
        path = KEYS_PATH + (f"?{urlencode(query)}" if query else "")
        conn: http.client.HTTPConnection
        if self._https:
            conn = http.client.HTTPSConnection(self._host, self._port, timeout=self._timeout, context=self._context)
        else:
            conn = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
        try:
            conn.request("GET", path, headers={"Authorization": self.__authorization})
            response = conn.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException) as exc:
            raise KeyFetchError(f"gateway unreachable for device keys: {exc}") from None
        finally:
            conn.close()
        if response.status != 200:
            try:
                reason = json.loads(body).get("error", "")
            except (ValueError, AttributeError):
                reason = ""
            raise KeyFetchError(f"gateway answered {response.status} for device keys: {reason}"[:300])
        return _parse(body)


def _parse(body: bytes) -> list[tuple[str, int, bytes]]:
    try:
        data: Any = json.loads(body)
        out = []
        for item in data["keys"]:
            key = bytes.fromhex(item["key"])
            if len(key) != 32 or type(item["key_id"]) is not int or not isinstance(item["device"], str):
                raise ValueError("a key entry is malformed")
            out.append((item["device"], item["key_id"], key))
        return out
    except (ValueError, KeyError, TypeError) as exc:
        raise KeyFetchError(f"the gateway's device keys answer is malformed ({type(exc).__name__})") from None


class EdgeKeyRing:
    """Device keys in memory, fetched on demand in the background (see the module docstring)."""

    def __init__(self, client: DeviceKeyClient | None) -> None:
        self.client = client
        self._keys: dict[tuple[str, int], bytes] = {}
        self._wanted: dict[tuple[str, int], float] = {}  # missing key -> when it was last asked for
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.fetches = 0
        self.failures = 0
        self._last_error = ""

    def __call__(self, device: str, key_id: int) -> bytes | None:
        with self._lock:
            key = self._keys.get((device, key_id))
            if key is None and self.client is not None and len(self._wanted) < MAX_WANTED:
                self._wanted.setdefault((device, key_id), 0.0)
                self._wake.set()
        return key

    def add(self, device: str, key_id: int, key: bytes) -> None:
        with self._lock:
            self._keys[(device, key_id)] = key
            self._wanted.pop((device, key_id), None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._keys)

    def start(self) -> EdgeKeyRing:
        if self.client is not None and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="edge-device-keys", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(5)

    def fetch_missing(self) -> int:
        """Fetch the keys asked for and not held (the background thread calls this); how many arrived."""
        assert self.client is not None
        now = time.monotonic()
        with self._lock:
            due = [k for k, asked in self._wanted.items() if now - asked >= RETRY_S]
            for k in due:
                self._wanted[k] = now
        arrived = 0
        for device, key_id in due:
            try:
                for d, kid, key in self.client.fetch(device, key_id):
                    self.add(d, kid, key)
                    arrived += 1
                self.fetches += 1
                self._last_error = ""
            except KeyFetchError as exc:
                self._failed(exc)
        if arrived:
            log.info("fetched %d device key(s) from the gateway", arrived)
        return arrived

    def _failed(self, exc: KeyFetchError) -> None:
        self.failures += 1
        if str(exc) != self._last_error:  # once per distinct problem, not per retry
            log.warning("%s; sealed images are forwarded unopened (the gateway opens them) and analysed once the key "
                        "is here", exc)
            self._last_error = str(exc)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(RETRY_S)
            self._wake.clear()
            if not self._stop.is_set():
                self.fetch_missing()
