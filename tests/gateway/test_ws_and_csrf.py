"""Cross-site requests: the WebSocket checks Origin and authentication; state-changing requests must be
JSON, so a foreign page's form or "simple" fetch (text/plain) cannot acknowledge an alert even with
a signed-in browser's cookie."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from gateway.auth import Role
from gateway.config import AuthConfig, GatewayConfig
from gateway.server import RunningGateway, running_gateway
from gateway.store.records import AlertQuery, WriteBatch
from iomt.wire.events import AlertState
from tests.gateway.auth_helpers import PASSWORD, Keys
from tests.gateway.helpers import fall_alert

EVIL = "http://evil.example"
PROXY = "https://ward.example.org"


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[RunningGateway]:
    config = GatewayConfig(port=0, db_path=tmp_path / "gw.sqlite", auth=AuthConfig(allowed_origins=(PROXY,)))
    async with running_gateway(config) as running:
        yield running


async def session_cookie(gw: RunningGateway, name: str, role: Role) -> dict[str, str]:
    Keys(gw).user(name, role)
    async with aiohttp.ClientSession() as http, http.post(
            f"{gw.url}/api/v1/login", json={"username": name, "password": PASSWORD}) as r:
        assert r.status == 200
        return {"Cookie": f"iomt_session={r.cookies['iomt_session'].value}"}


async def hello(http: aiohttp.ClientSession, url: str, **kwargs) -> int:
    """The handshake's status: 101 when the feed said hello."""
    try:
        async with http.ws_connect(url, **kwargs) as ws:
            message = await ws.receive(timeout=5)
            assert json.loads(message.data)["type"] == "hello"
            return 101
    except aiohttp.WSServerHandshakeError as exc:
        return exc.status


async def test_the_live_feed_checks_authentication_and_origin(gw):
    cookie = await session_cookie(gw, "ann", Role.VIEWER)
    url = f"{gw.url}/api/v1/live"
    own = gw.url
    async with aiohttp.ClientSession() as http:
        assert await hello(http, url) == 401
        assert await hello(http, url, origin=own) == 401
        assert await hello(http, url, headers={"Cookie": "iomt_session=forged"}, origin=own) == 401
        assert await hello(http, url, headers=cookie, origin=own) == 101
        assert await hello(http, url, headers=cookie, origin=EVIL) == 403  # a foreign page using her cookie
        assert await hello(http, url, headers=cookie, origin="null") == 403
        assert await hello(http, url, headers=cookie, origin=PROXY) == 101  # allowed in the config
        assert await hello(http, url, headers=Keys(gw).user("bot", Role.VIEWER)) == 101  # no Origin: not a browser
        assert await hello(http, url, headers=Keys(gw).edge("edge-1")) == 401  # edges do not read the feed


async def test_a_text_plain_or_cross_origin_acknowledge_is_refused(gw):
    alert = fall_alert("p1")
    gw.store.write(WriteBatch(events=[alert]))
    cookie = await session_cookie(gw, "nurse", Role.CLINICIAN)
    url = f"{gw.url}/api/v1/alerts/{alert.event_id}/acknowledge"
    async with aiohttp.ClientSession() as http:
        # what a foreign page can send without a preflight: text/plain, or a form
        async with http.post(url, data='{"by": "nurse"}', headers={**cookie, "Content-Type": "text/plain"}) as r:
            assert r.status == 415 and "application/json" in (await r.json())["error"]
        async with http.post(url, data={"by": "nurse"}, headers=cookie) as r:
            assert r.status == 415
        async with http.post(url, json={"by": "nurse"}, headers={**cookie, "Origin": EVIL}) as r:
            assert r.status == 403 and "origin" in (await r.json())["error"]
        assert gw.store.alerts(AlertQuery())[0].state == AlertState.RAISED  # nothing happened
        async with http.post(url, json={}, headers={**cookie, "Origin": gw.url}) as r:
            assert r.status == 200 and (await r.json())["acknowledged_by"] == "nurse"


async def test_login_is_json_only_too(gw):
    Keys(gw).user("ann", Role.VIEWER)
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{gw.url}/api/v1/login", data={"username": "ann", "password": PASSWORD}) as r:
            assert r.status == 415 and "iomt_session" not in r.cookies
        async with http.post(f"{gw.url}/api/v1/login", json={"username": "ann", "password": PASSWORD},
                             headers={"Origin": EVIL}) as r:
            assert r.status == 403  # login CSRF: a foreign page cannot sign the browser in as someone


async def test_every_answer_carries_the_anti_framing_and_no_store_headers(gw):
    async with aiohttp.ClientSession() as http:
        for path in ("/healthz", "/login", "/api/v1/patients", "/static/login.js"):
            async with http.get(f"{gw.url}{path}") as r:
                assert r.headers["X-Frame-Options"] == "DENY", path
                assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
                assert r.headers["X-Content-Type-Options"] == "nosniff"
                if path.startswith("/api/"):
                    assert r.headers["Cache-Control"] == "no-store"
