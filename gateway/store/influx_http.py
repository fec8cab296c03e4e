"""InfluxDB's v1 HTTP API (``/write``, ``/query``) over a urllib3 connection pool.

Connection failures and 5xx answers become :class:`StoreUnavailable` (the uplink answers 503 and the
edge retries); 4xx answers and InfluxQL errors are :class:`ValueError` (a bug, not an outage).

Credentials travel in an ``Authorization: Basic`` header (InfluxDB 1.x, and the 1.x compatibility API
of 2.x/3.x, accept it), never as ``u``/``p`` query parameters: a URL ends up in proxy and server
access logs and in the text of connection errors. The errors raised here name no address or
credential; the server's address is logged once by the store when it opens.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import urllib3

from gateway.store.base import StoreUnavailable

LINES_PER_REQUEST = 5000


def _reason(exc: urllib3.exceptions.HTTPError) -> BaseException:
    """The underlying cause of a urllib3 error (a MaxRetryError wraps it)."""
    reason = getattr(exc, "reason", None)
    return reason if isinstance(reason, BaseException) else exc


class InfluxHttp:
    """Thread-safe (urllib3's pool is)."""

    def __init__(self, url: str, database: str, timeout_s: float, username: str | None, password: str | None) -> None:
        self.url = url.rstrip("/")
        self.database = database
        self._pool = urllib3.PoolManager(maxsize=4, retries=False, timeout=urllib3.Timeout(connect=2.0, read=timeout_s))
        self._headers: dict[str, str] = (
            urllib3.make_headers(basic_auth=f"{username}:{password or ''}") if username else {}
        )

    def request(self, method: str, path: str, fields: dict[str, str], body: bytes | None = None) -> bytes:
        try:
            if body is None:
                response = self._pool.request_encode_body(
                    method, self.url + path, fields=fields, headers=self._headers, encode_multipart=False
                )
            else:
                response = self._pool.request(method, f"{self.url}{path}?{urlencode(fields)}", body=body,
                                              headers=self._headers)
        except urllib3.exceptions.HTTPError as exc:
            # urllib3's text names the host and the URL: the reason alone, here and in the logs
            raise StoreUnavailable(f"InfluxDB unreachable ({type(_reason(exc)).__name__})") from None
        if response.status >= 500:
            raise StoreUnavailable(f"InfluxDB answered {response.status}")
        if response.status in (401, 403):
            raise ValueError(f"InfluxDB refused the credentials ({response.status}): check the gateway's InfluxDB "
                             "username and password")
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
