"""Uplink: ships outbox records to the gateway and deletes them only once it acknowledged.

The gateway answers 200 only after its store committed the whole batch, so an acknowledged record
is durable upstream. Any failure (connection refused, timeout, 5xx) keeps the records and retries
with a backoff capped at a few seconds.
"""

from __future__ import annotations

import http.client
import logging
import sqlite3
import ssl
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from edge.outbox import Outbox
from iomt.wire.errors import DecodeError
from iomt.wire.uplink import CONTENT_TYPE, NODE_HEADER, UPLINK_PATH, UplinkAck, decode_ack, encode_batch

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 4.0
#: Seconds between outbox checkpoints (the outbox leaves them to this thread; see Outbox._conn).
CHECKPOINT_S = 1.0


@dataclass
class UplinkStats:
    batches: int = 0
    records: int = 0
    failures: int = 0
    duplicates: int = 0


class UplinkError(RuntimeError):
    pass


class GatewayClient:
    """A keep-alive HTTP(S) connection to the gateway, authenticated with the node's uplink token.

    Over HTTPS the gateway's certificate is verified against ``ca_file`` (default: the system's CAs).
    """

    def __init__(self, base_url: str, timeout_s: float, node: str = "", token: str | None = None,
                 ca_file: Path | None = None) -> None:
        self._node = node
        self._auth = _Secret(f"Bearer {token}") if token else None
        self._ssl = ssl.create_default_context(cafile=ca_file) if ca_file is not None else None
        parts = urlsplit(base_url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or (443 if self._https else 80)
        self._timeout = timeout_s
        self._conn: http.client.HTTPConnection | None = None

    def post_batch(self, body: bytes) -> UplinkAck:
        """POST one batch; return the gateway's acknowledgement or raise :class:`UplinkError`."""
        for attempt in (0, 1):  # one silent retry when a kept-alive connection went stale
            conn = self._connection()
            try:
                headers = {"Content-Type": CONTENT_TYPE, NODE_HEADER: self._node}
                if self._auth is not None:
                    headers["Authorization"] = self._auth.value
                conn.request("POST", UPLINK_PATH, body=body, headers=headers)
                response = conn.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                if attempt == 1:
                    raise UplinkError(f"gateway unreachable: {exc}") from exc
                continue
            if response.status in (401, 403):
                raise UplinkError(f"gateway refused this edge's credential ({response.status}: {payload[:200]!r}); "
                                  "check uplink_token / uplink_token_file")
            if response.status != 200:
                raise UplinkError(f"gateway answered {response.status}: {payload[:200]!r}")
            try:
                return decode_ack(payload)
            except DecodeError as exc:
                raise UplinkError(f"gateway acknowledgement is malformed ({exc}): {payload[:200]!r}") from exc
        raise UplinkError("unreachable")

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            if self._https:
                self._conn = http.client.HTTPSConnection(self._host, self._port, timeout=self._timeout,
                                                         context=self._ssl)
            else:
                self._conn = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


@dataclass(frozen=True)
class _Secret:
    """A header value that never shows in a repr or a log."""

    value: str = field(repr=False)


class UplinkSender:
    """Background loop: peek a batch, send it, delete it on acknowledgement."""

    def __init__(self, outbox: Outbox, client: GatewayClient, batch_size: int) -> None:
        self.outbox = outbox
        self.client = client
        self.batch_size = batch_size
        self.stats = UplinkStats()
        self.wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.idle = threading.Event()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="uplink", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self.wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.client.close()
        self.outbox.close()

    def send_once(self) -> int:
        """Send one batch; return how many records were acknowledged (0 when the outbox is empty)."""
        rows = self.outbox.peek(self.batch_size)
        if not rows:
            return 0
        ack = self.client.post_batch(encode_batch(record for _, record in rows))
        self.outbox.delete([row_id for row_id, _ in rows])
        self.stats.batches += 1
        self.stats.records += len(rows)
        self.stats.duplicates += ack.duplicates
        return len(rows)

    def _run(self) -> None:
        backoff = 0.1
        next_checkpoint = 0.0
        while not self._stop.is_set():
            if time.monotonic() >= next_checkpoint:  # also while the gateway is away: the log must not grow
                next_checkpoint = time.monotonic() + CHECKPOINT_S
                try:
                    self.outbox.checkpoint()
                except sqlite3.Error as exc:
                    log.warning("outbox checkpoint failed (%s); retrying in %.0f s", exc, CHECKPOINT_S)
            try:
                sent = self.send_once()
            except UplinkError as exc:
                self.stats.failures += 1
                self.idle.clear()
                log.warning("uplink failed (%s); retrying in %.1f s", exc, backoff)
                self._stop.wait(backoff)
                backoff = min(MAX_BACKOFF_S, backoff * 2)
                continue
            except Exception:
                self.stats.failures += 1
                log.exception("uplink loop error; retrying")
                self._stop.wait(backoff)
                backoff = min(MAX_BACKOFF_S, backoff * 2)
                continue
            backoff = 0.1
            if sent == 0:
                self.idle.set()
                self.wake.wait(0.5)
                self.wake.clear()
            else:
                self.idle.clear()
        # the outbox connection of this thread must be closed from this thread
        self.outbox.close()
