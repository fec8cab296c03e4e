"""Body limits at a running gateway: a size per route (413 before reading), and large uploads take
turns on a few slots — one more waits, then gets 503 with Retry-After — while an unauthenticated
upload is refused without being read or taking a slot."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from gateway.auth import Role
from gateway.config import GatewayConfig, LimitsConfig
from gateway.server import RunningGateway, running_gateway
from iomt.wire.uplink import CONTENT_TYPE
from tests.gateway.auth_helpers import Keys
from tests.gateway.helpers import ecg_frame, uplink_body


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[RunningGateway]:
    config = GatewayConfig(port=0, db_path=tmp_path / "gw.sqlite", max_uplink_bytes=256 * 1024,
                           limits=LimitsConfig(json_body_bytes=4096, large_body_bytes=2048,
                                               concurrent_large_bodies=1, large_body_wait_s=0.5))
    async with running_gateway(config) as running:
        yield running


def batch(first_seq: int, frames: int) -> bytes:
    return uplink_body(frames=[ecg_frame("p1", s) for s in range(first_seq, first_seq + frames)])


async def test_each_route_has_a_size_limit(gw):
    keys = Keys(gw)
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{gw.url}/api/v1/login", data=b"{" + b" " * 5000 + b"}",
                             headers={"Content-Type": "application/json"}) as r:
            assert r.status == 413 and "at most 4096" in (await r.json())["error"]

        async def endless() -> AsyncIterator[bytes]:  # no Content-Length: stopped at the limit while reading
            yield b'{"username": "'
            for _ in range(100):
                yield b"x" * 1024

        async with http.post(f"{gw.url}/api/v1/tokens", data=endless(),
                             headers={"Content-Type": "application/json"}) as r:
            assert r.status == 413
        big = batch(0, 600)
        assert len(big) > 256 * 1024
        async with http.post(f"{gw.url}/api/v1/uplink", data=big, headers=keys.edge()) as r:
            assert r.status == 413 and "at most 262144" in (await r.json())["error"]
        async with http.post(f"{gw.url}/api/v1/uplink", data=batch(0, 100), headers=keys.edge()) as r:
            assert r.status == 200  # 60 KB: large, but within the limit and a slot is free
    assert gw.store.count("frames") == 100


async def test_large_uploads_take_turns_and_the_one_too_many_gets_503_with_retry_after(gw):
    keys = Keys(gw)
    body = batch(0, 50)
    release = asyncio.Event()

    async def slow() -> AsyncIterator[bytes]:  # an upload that holds the only slot until released
        yield body[:1000]
        await release.wait()
        yield body[1000:]

    async with aiohttp.ClientSession() as http:
        holder = asyncio.ensure_future(http.post(f"{gw.url}/api/v1/uplink", data=slow(), headers=keys.edge()))
        await asyncio.sleep(0.3)
        started = time.monotonic()
        async with http.post(f"{gw.url}/api/v1/uplink", data=batch(100, 50), headers=keys.edge()) as r:
            waited = time.monotonic() - started
            assert r.status == 503 and r.headers["Retry-After"] == "1"
            assert "too many large uploads" in (await r.json())["error"]
        assert waited >= 0.45  # it waited its turn for large_body_wait_s first
        async with http.post(f"{gw.url}/api/v1/uplink", data=batch(100, 50),
                             headers={"Content-Type": CONTENT_TYPE}) as r:
            assert r.status == 401  # no credential: refused at once, unread, without a slot
        async with http.post(f"{gw.url}/api/v1/uplink", data=uplink_body(frames=[ecg_frame("p2", 0)]),
                             headers=keys.edge()) as r:
            assert r.status == 200  # a small batch needs no slot
        release.set()
        async with await holder as r:
            assert r.status == 200 and (await r.json())["stored"] == 50
        async with http.post(f"{gw.url}/api/v1/uplink", data=batch(100, 50), headers=keys.edge()) as r:
            assert r.status == 200  # the retry gets the free slot
    assert gw.store.stored_sequences("p1", "ecg") == [*range(50), *range(100, 150)]
    async with aiohttp.ClientSession() as http, \
            http.get(f"{gw.url}/metrics", headers=keys.user("root", Role.ADMIN)) as r:
        assert "iomt_gateway_large_bodies_refused_total 1.0" in await r.text()
