"""InfluxDB's v1 HTTP API (``/write``, ``/query``) over a urllib3 connection pool.

Connection failures and 5xx answers become :class:`StoreUnavailable` (the uplink answers 503 and the
edge retries); 4xx answers and InfluxQL errors are :class:`ValueError` (a bug, not an outage).

Credentials travel in an ``Authorization: Basic`` header (InfluxDB 1.x, 2.x and 3.x accept it on the
v1 API), never in the URL, where proxies, access logs and error messages would keep them.
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import urlencode

import urllib3

from gateway.store.base import StoreUnavailable

LINES_PER_REQUEST = 5000


class InfluxHttp:
    """Thread-safe (urllib3's pool is)."""

    def __init__(self, url: str, database: str, timeout_s: float, username: str | None, password: str | None) -> None:
        self.url = url.rstrip("/")
        self.database = database
        self._pool = urllib3.PoolManager(maxsize=4, retries=False, timeout=urllib3.Timeout(connect=2.0, read=timeout_s))
        self._headers: dict[str, str] = {}
        if username:
            pair = f"{username}:{password or ''}".encode()
            self._headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()

    def request(self, method: str, path: str, fields: dict[str, str], body: bytes | None = None) -> bytes:
        try:
            if body is None:
                response = self._pool.request_encode_body(
                    method, self.url + path, fields=fields, encode_multipart=False, headers=self._headers
                )
            else:
                response = self._pool.request(method, f"{self.url}{path}?{urlencode(fields)}", body=body,
                                              headers=self._headers)
        except urllib3.exceptions.HTTPError as exc:
            raise StoreUnavailable(f"InfluxDB at {self.url} unreachable: {exc}") from exc
        if response.status >= 500:
            raise StoreUnavailable(f"InfluxDB answered {response.status}: {response.data[:200]!r}")
        if response.status >= 400:
            raise ValueError(f"InfluxDB rejected the request ({response.status}): {response.data[:300]!r}")
        return bytes(response.data)

    def query(self, q: str, database: str | None = "") -> list[dict[str, Any]]:
        """Run InfluxQL (statements separated by ';'); one result per statement. ``database=None``: none."""
        fields = {"q": q, "epoch": "ns"}
        if database is not None:
            fields["db"] = database or self.database
        results: list[dict[str, Any]] = json.loads(self.request("POST", "/query", fields))["results"]
        for result in results:
            if "error" in result:
                raise ValueError(f"InfluxQL error: {result['error']} in {q[:200]!r}")
        return results

    def write_lines(self, rp: str, lines: list[str]) -> None:
        for i in range(0, len(lines), LINES_PER_REQUEST):
            body = "\n".join(lines[i:i + LINES_PER_REQUEST]).encode()
            self.request("POST", "/write", {"db": self.database, "rp": rp, "precision": "n"}, body)

    def close(self) -> None:
        self._pool.clear()
