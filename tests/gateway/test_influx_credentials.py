"""InfluxDB credentials travel in the Authorization header, never in a URL: a capturing HTTP server
sees every request the store makes, and a real influxd with authentication on accepts them."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from gateway.store.influx import InfluxStore
from gateway.store.influx_http import InfluxHttp
from gateway.store.records import WriteBatch
from tests.gateway.helpers import ecg_frame, event
from testsupport.services import Influxd

PASSWORD = "pa ss&p=w0rd'"


@pytest.fixture
def capture() -> Iterator[tuple[str, list[tuple[str, str, str | None, bytes]]]]:
    seen: list[tuple[str, str, str | None, bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen.append((self.command, self.path, self.headers.get("Authorization"), body))
            answer = b'{"results":[{"statement_id":0}]}'
            self.send_response(204 if self.path.startswith("/write") else 200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "0" if self.path.startswith("/write") else str(len(answer)))
            self.end_headers()
            if not self.path.startswith("/write"):
                self.wfile.write(answer)

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", seen
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def test_queries_and_writes_carry_credentials_only_in_the_header(capture):
    url, seen = capture
    client = InfluxHttp(url, "iomt", 5.0, "gateway", PASSWORD)
    client.query("SHOW DATABASES", database=None)
    client.write_lines("raw", ["m v=1 1"])
    client.close()
    expected = "Basic " + base64.b64encode(f"gateway:{PASSWORD}".encode()).decode()
    assert [(method, path.split("?")[0]) for method, path, _, _ in seen] == [("POST", "/query"), ("POST", "/write")]
    for _method, path, authorization, body in seen:
        assert authorization == expected
        fields = parse_qs(urlsplit(path).query) | parse_qs(body.decode())
        assert not {"u", "p"} & set(fields), (path, body)
        for leak in ("gateway", "w0rd", "pa%20ss", "pa+ss"):
            assert leak not in path and leak.encode() not in body, (path, body)


def test_without_a_user_no_authorization_is_sent(capture):
    url, seen = capture
    InfluxHttp(url, "iomt", 5.0, None, None).query("SHOW DATABASES", database=None)
    assert seen[0][2] is None


def test_a_real_influxd_with_authentication_accepts_the_header_and_refuses_a_wrong_password(tmp_path):
    with Influxd(workdir=tmp_path / "influx", admin=("gateway", PASSWORD)) as server:
        store = InfluxStore(server.url, database="authed", username="gateway", password=PASSWORD)
        store.write(WriteBatch(frames=[ecg_frame("p1", 0), ecg_frame("p1", 1)], events=[event("p1")]))
        assert store.stored_sequences("p1", "ecg") == [0, 1] and store.count("events") == 1
        store.close()
        with pytest.raises(ValueError, match="401"):
            InfluxStore(server.url, database="authed", username="gateway", password="wrong").count("frames")
        with pytest.raises(ValueError, match="401"):
            InfluxStore(server.url, database="authed").count("frames")
