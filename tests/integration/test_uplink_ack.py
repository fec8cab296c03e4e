"""The edge's uplink client speaks iomt.wire.uplink's contract and deletes records only on a valid
acknowledgement: a real HTTP server (stdlib, on a free port) answers with scripted bodies."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from edge.outbox import Outbox
from edge.uplink import GatewayClient, UplinkError, UplinkSender
from iomt.wire.uplink import (
    ACK_CONTENT_TYPE,
    CONTENT_TYPE,
    NODE_HEADER,
    UPLINK_PATH,
    RecordKind,
    UplinkAck,
    UplinkRecord,
    decode_batch,
    encode_ack,
)


@dataclass
class Script:
    """What the server answers next, and what it saw."""

    body: bytes = b""
    status: int = 200
    seen: list[tuple[str, str | None, str | None, int]] = field(default_factory=list)


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            script.seen.append((self.path, self.headers.get("Content-Type"), self.headers.get(NODE_HEADER),
                                len(decode_batch(body))))
            self.send_response(script.status)
            self.send_header("Content-Type", ACK_CONTENT_TYPE)
            self.send_header("Content-Length", str(len(script.body)))
            self.end_headers()
            self.wfile.write(script.body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", script
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def _sender(tmp_path: Path, url: str, records: int) -> UplinkSender:
    outbox = Outbox(tmp_path / "outbox.sqlite")
    outbox.append([UplinkRecord(RecordKind.EVENT, b"{}") for _ in range(records)])
    return UplinkSender(outbox, GatewayClient(url, 5.0, node="edge-7"), batch_size=100)


def test_a_valid_ack_is_decoded_and_the_records_deleted(tmp_path: Path, server: tuple[str, Script]) -> None:
    url, script = server
    script.body = encode_ack(UplinkAck(stored=2, duplicates=1, rejected=0))
    sender = _sender(tmp_path, url, 3)
    try:
        assert sender.send_once() == 3
        assert sender.outbox.depth() == 0
        assert sender.stats.duplicates == 1 and sender.stats.records == 3
        assert script.seen == [(UPLINK_PATH, CONTENT_TYPE, "edge-7", 3)]
    finally:
        sender.client.close()
        sender.outbox.close()


@pytest.mark.parametrize("body", [b'{"stored": 3}', b'{"stored": 3, "duplicates": 0, "rejected": -1}', b"OK"])
def test_a_malformed_ack_keeps_every_record(tmp_path: Path, server: tuple[str, Script], body: bytes) -> None:
    url, script = server
    script.body = body
    sender = _sender(tmp_path, url, 3)
    try:
        with pytest.raises(UplinkError, match="acknowledgement is malformed"):
            sender.send_once()
        assert sender.outbox.depth() == 3  # nothing deleted on an answer the edge cannot trust
    finally:
        sender.client.close()
        sender.outbox.close()
