"""InfluxDB credentials travel in a header, never in a URL, and no error a client sees names the
store's address (issue 12, point 8). A real influxd with authentication on and its HTTP request log
on, so what went over the wire is read from the server's own log."""

from __future__ import annotations

import asyncio
import urllib.parse
import urllib.request
from pathlib import Path

import aiohttp
import pytest

from gateway.config import GatewayConfig, InfluxConfig
from gateway.server import running_gateway
from gateway.store.influx import InfluxStore
from gateway.store.records import WriteBatch
from iomt.wire.uplink import CONTENT_TYPE
from tests.gateway.helpers import ecg_frame, uplink_body
from testsupport.services import Influxd

PASSWORD = "s3cret-Pa55word-xyz"


def create_admin(server: Influxd) -> None:
    query = urllib.parse.urlencode({"q": f"CREATE USER admin WITH PASSWORD '{PASSWORD}' WITH ALL PRIVILEGES"})
    with urllib.request.urlopen(urllib.request.Request(f"{server.url}/query", data=query.encode())) as response:
        assert response.status == 200


def test_credentials_go_in_a_header_and_work(tmp_path: Path) -> None:
    with Influxd(workdir=tmp_path / "influx", auth=True, http_log=True) as server:
        create_admin(server)
        store = InfluxStore(server.url, database="creds", username="admin", password=PASSWORD)
        try:
            result = store.write(WriteBatch(frames=[ecg_frame("p1", 0), ecg_frame("p1", 1)]))
            assert result.stored == 2
            assert store.stored_sequences("p1", "ecg") == [0, 1]
        finally:
            store.close()
        log = server.log_path.read_text(errors="replace")
        assert "/write?" in log and "/query" in log  # the request log is on: requests are in it
        assert PASSWORD not in log
        assert "p=" not in log.replace("rp=", "")


def test_wrong_credentials_are_a_clear_refusal(tmp_path: Path) -> None:
    with Influxd(workdir=tmp_path / "influx", auth=True) as server:
        create_admin(server)
        with pytest.raises(ValueError, match="refused the credentials"):  # at start-up, creating the database
            InfluxStore(server.url, database="creds", username="admin", password="wrong")


async def test_a_503_names_no_internal_address(tmp_path: Path) -> None:
    with Influxd(workdir=tmp_path / "influx") as server:
        config = GatewayConfig(port=0, backend="influxdb", db_path=tmp_path / "unused.sqlite",
                               influx=InfluxConfig(url=server.url, database="addr", timeout_s=2.0))
        async with running_gateway(config) as gw, aiohttp.ClientSession() as http:
            await asyncio.to_thread(server.kill)
            body = uplink_body(frames=[ecg_frame("p1", 0)])
            async with http.post(f"{gw.url}/api/v1/uplink", data=body, headers={"Content-Type": CONTENT_TYPE}) as r:
                assert r.status == 503
                text = await r.text()
            host_port = server.url.split("//", 1)[1]
            assert host_port not in text and str(server.port) not in text and "127.0.0.1" not in text
            assert "store unavailable" in text
