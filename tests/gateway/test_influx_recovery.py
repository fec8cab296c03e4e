"""InfluxDB taken away mid-load and brought back: a real edge outbox and uplink keep retrying, and the
store ends up holding every frame exactly once. Also: while it is down the uplink answers 503 (retry),
and the answer names no internal address."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import pytest

from edge.outbox import Outbox
from edge.uplink import GatewayClient, UplinkSender
from gateway.config import GatewayConfig, InfluxConfig
from gateway.server import running_gateway
from iomt.wire.frames import encode_frame
from iomt.wire.uplink import RecordKind, UplinkRecord
from tests.gateway.auth_helpers import Keys
from tests.gateway.helpers import ecg_frame, uplink_body
from testsupport.services import Influxd

DEVICES = [f"p{i}" for i in range(5)]


def config(server: Influxd, tmp_path: Path) -> GatewayConfig:
    return GatewayConfig(port=0, backend="influxdb", db_path=tmp_path / "unused.sqlite",
                         influx=InfluxConfig(url=server.url, database="recovery", timeout_s=2.0))


async def test_uplink_answers_503_while_influx_is_down(tmp_path):
    with Influxd(workdir=tmp_path / "influx") as server:
        async with running_gateway(config(server, tmp_path)) as gw, aiohttp.ClientSession() as http:
            body = uplink_body(frames=[ecg_frame("p1", 0)])
            url, headers = f"{gw.url}/api/v1/uplink", Keys(gw).edge("edge-1")
            await asyncio.to_thread(server.kill)
            async with http.post(url, data=body, headers=headers) as r:
                text = await r.text()
                assert r.status == 503 and "store unavailable" in (await r.json())["error"]
                assert r.headers["Retry-After"] == "1"
                for internal in (server.url, f"{server.host}:{server.port}", str(server.port), "InfluxDB"):
                    assert internal not in text, f"the 503 answer shows {internal!r}: {text}"
            await asyncio.to_thread(server.start)
            async with http.post(url, data=body, headers=headers) as r:
                assert r.status == 200 and (await r.json())["stored"] == 1


@pytest.mark.slow
async def test_influx_killed_mid_load_every_frame_stored_exactly_once(tmp_path):
    chunks, per_chunk = 24, 10  # 24 x 10 frames per device, appended to the edge outbox over ~2.5 s
    with Influxd(workdir=tmp_path / "influx") as server:
        async with running_gateway(config(server, tmp_path)) as gw:
            outbox = Outbox(tmp_path / "outbox.sqlite")
            client = GatewayClient(gw.url, 5.0, node="edge-1", token=Keys(gw).edge_token("edge-1"))
            sender = UplinkSender(Outbox(tmp_path / "outbox.sqlite"), client, batch_size=40)
            sender.start()
            try:
                for chunk in range(chunks):
                    records = [
                        UplinkRecord(RecordKind.FRAME, encode_frame(ecg_frame(d, chunk * per_chunk + i)))
                        for i in range(per_chunk) for d in DEVICES
                    ]
                    await asyncio.to_thread(outbox.append, records)
                    sender.wake.set()
                    if chunk == 6:
                        await asyncio.to_thread(server.kill)
                    if chunk == 14:
                        await asyncio.to_thread(server.start)
                    await asyncio.sleep(0.1)
                deadline = time.monotonic() + 60
                while outbox.depth() > 0:
                    assert time.monotonic() < deadline, f"outbox stuck at {outbox.depth()} records"
                    await asyncio.sleep(0.1)
            finally:
                sender.stop()
                outbox.close()
            assert sender.stats.failures > 0, "the outage never hit the uplink; the test proved nothing"
            total = chunks * per_chunk
            for device in DEVICES:
                assert await asyncio.to_thread(gw.store.stored_sequences, device, "ecg") == list(range(total))
            assert await asyncio.to_thread(gw.store.count, "frames") == total * len(DEVICES)
