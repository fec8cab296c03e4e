"""Signing in at a running gateway: the session cookie, logout, API tokens, lockout and rate limits,
session expiry, user management by admins, and the audit entries all of it leaves."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from http.cookies import SimpleCookie
from pathlib import Path

import aiohttp
import pytest

from gateway.auth import Role
from gateway.auth.context import AUDIT, USERS
from gateway.config import AuthConfig, GatewayConfig
from gateway.server import RunningGateway, running_gateway
from tests.gateway.auth_helpers import PASSWORD, Keys, bearer


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[RunningGateway]:
    config = GatewayConfig(port=0, db_path=tmp_path / "gw.sqlite",
                           auth=AuthConfig(max_failures=3, lockout_s=1.0, attempts_per_minute=30))
    async with running_gateway(config) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def login(http, gw, name: str, password: str = PASSWORD) -> tuple[int, dict, str | None, str]:
    """(status, body, the session cookie's value, the raw Set-Cookie header)."""
    async with http.post(f"{gw.url}/api/v1/login", json={"username": name, "password": password}) as r:
        raw = r.headers.get("Set-Cookie", "")
        cookie = SimpleCookie(raw).get("iomt_session")
        return r.status, await r.json(), cookie.value if cookie else None, raw


def actions(gw) -> list[tuple[str, str, str]]:
    return [(e.actor, e.action, e.target) for e in gw.app[AUDIT].entries()]


async def test_login_sets_a_strict_httponly_cookie_that_works_until_logout(http, gw):
    Keys(gw).user("ann", Role.CLINICIAN)
    status, body, cookie, raw = await login(http, gw, "ann")
    assert status == 200 and (body["user"], body["role"]) == ("ann", "clinician") and cookie
    attributes = raw.lower()
    assert "httponly" in attributes and "samesite=strict" in attributes and "path=/" in attributes
    assert "secure" not in attributes.replace("samesite", "")  # plain HTTP here (test_https checks Secure)
    headers = {"Cookie": f"iomt_session={cookie}"}
    async with http.get(f"{gw.url}/api/v1/me", headers=headers) as r:
        assert r.status == 200 and await r.json() == {"user": "ann", "role": "clinician", "via": "session"}
    async with http.get(f"{gw.url}/api/v1/patients", headers=headers) as r:
        assert r.status == 200
    async with http.post(f"{gw.url}/api/v1/logout", headers=headers, json={}) as r:
        assert r.status == 200 and "iomt_session=" in r.headers["Set-Cookie"]  # the browser drops it
    async with http.get(f"{gw.url}/api/v1/me", headers=headers) as r:
        assert r.status == 401  # the old cookie, replayed, is dead on the server
    assert [a for a in actions(gw) if a[0] == "user:ann"] == [("user:ann", "login", "user:ann"),
                                                              ("user:ann", "logout", "user:ann")]


async def test_wrong_passwords_are_refused_alike_then_the_name_is_locked_with_retry_after(http, gw):
    Keys(gw).user("ann", Role.VIEWER)
    unknown = await login(http, gw, "nobody-at-all", "whatever password")
    wrong = await login(http, gw, "ann", "not her password")
    assert unknown[0] == wrong[0] == 401 and unknown[1]["error"] == wrong[1]["error"] == "wrong user name or password"
    assert unknown[2] is None and wrong[2] is None
    await login(http, gw, "ann", "still not it"), await login(http, gw, "ann", "nor this")  # 3 failures: locked
    async with http.post(f"{gw.url}/api/v1/login", json={"username": "ann", "password": PASSWORD}) as r:
        assert r.status == 429 and int(r.headers["Retry-After"]) >= 1  # even the right password waits
        assert "try again" in (await r.json())["error"]
    async with http.post(f"{gw.url}/api/v1/tokens", json={"username": "ann", "password": PASSWORD}) as r:
        assert r.status == 429  # tokens are throttled with logins
    await asyncio.sleep(1.1)
    assert (await login(http, gw, "ann"))[0] == 200
    audit = actions(gw)
    assert sum(1 for _a, action, target in audit if action == "login.failed" and target == "user:ann") == 3
    assert ("client:127.0.0.1", "login.failed", "user:nobody-at-all") in audit
    assert sum(1 for _a, action, _t in audit if action == "login.throttled") == 2
    assert audit[-1] == ("user:ann", "login", "user:ann")
    details = [e.detail for e in gw.app[AUDIT].entries() if e.action == "login.failed"]
    assert [d["locked"] for d in details][-1] is True and all(PASSWORD not in str(d) for d in details)


async def test_one_address_gets_a_limited_number_of_attempts_per_minute(tmp_path, http):
    config = GatewayConfig(port=0, db_path=tmp_path / "gw.sqlite", auth=AuthConfig(attempts_per_minute=4))
    async with running_gateway(config) as gw:
        statuses = [(await login(http, gw, f"guess-{i}", "guessed password"))[0] for i in range(6)]
    assert statuses == [401, 401, 401, 401, 429, 429]


async def test_an_api_token_works_as_bearer_and_ends_with_logout(http, gw):
    Keys(gw).user("bot", Role.VIEWER)
    request = {"username": "bot", "password": PASSWORD, "label": "nightly export", "ttl_s": 3600}
    async with http.post(f"{gw.url}/api/v1/tokens", json=request) as r:
        assert r.status == 201
        issued = await r.json()
    assert issued["token"].startswith("iomt_") and issued["label"] == "nightly export"
    assert issued["expires_us"] == pytest.approx(time.time() * 1e6 + 3600e6, abs=60e6)
    async with http.get(f"{gw.url}/api/v1/me", headers=bearer(issued["token"])) as r:
        assert await r.json() == {"user": "bot", "role": "viewer", "via": "token"}
    for ttl in (0, "long", 10 ** 12, True):
        async with http.post(f"{gw.url}/api/v1/tokens", json={**request, "ttl_s": ttl}) as r:
            assert r.status == 400 and (await r.json())["error"].startswith("ttl_s:")
    async with http.post(f"{gw.url}/api/v1/logout", headers=bearer(issued["token"]), json={}) as r:
        assert r.status == 200
    async with http.get(f"{gw.url}/api/v1/me", headers=bearer(issued["token"])) as r:
        assert r.status == 401
    assert ("user:bot", "token.issue", "user:bot") in actions(gw)


async def test_a_session_ends_at_its_maximum_age(tmp_path, http):
    config = GatewayConfig(port=0, db_path=tmp_path / "gw.sqlite", auth=AuthConfig(session_max_s=1.0))
    async with running_gateway(config) as gw:
        Keys(gw).user("ann", Role.VIEWER)
        _, _, cookie, _ = await login(http, gw, "ann")
        headers = {"Cookie": f"iomt_session={cookie}"}
        async with http.get(f"{gw.url}/api/v1/me", headers=headers) as r:
            assert r.status == 200
        await asyncio.sleep(1.1)
        async with http.get(f"{gw.url}/api/v1/me", headers=headers) as r:
            assert r.status == 401


async def test_admins_manage_users_and_every_change_applies_at_once_and_is_audited(http, gw):
    keys = Keys(gw)
    admin = keys.user("root", Role.ADMIN)
    async with http.post(f"{gw.url}/api/v1/users", headers=admin, json={"name": "bea", "role": "viewer"}) as r:
        assert r.status == 201
        created = await r.json()
    assert (created["name"], created["role"]) == ("bea", "viewer") and len(created["password"]) >= 20
    status, _, cookie, _ = await login(http, gw, "bea", created["password"])
    assert status == 200
    bea = {"Cookie": f"iomt_session={cookie}"}
    async with http.post(f"{gw.url}/api/v1/alerts/{'0' * 32}/acknowledge", headers=bea, json={}) as r:
        assert r.status == 403
    async with http.patch(f"{gw.url}/api/v1/users/bea", headers=admin, json={"role": "clinician"}) as r:
        assert r.status == 200 and (await r.json())["role"] == "clinician"
    async with http.post(f"{gw.url}/api/v1/alerts/{'0' * 32}/acknowledge", headers=bea, json={}) as r:
        assert r.status == 404  # now allowed (there is no such alert)
    async with http.patch(f"{gw.url}/api/v1/users/bea", headers=admin, json={"password": None}) as r:
        assert r.status == 200
        new_password = (await r.json())["password"]
    async with http.get(f"{gw.url}/api/v1/me", headers=bea) as r:
        assert r.status == 401  # a new password ends her sessions
    assert (await login(http, gw, "bea", new_password))[0] == 200
    cases = [
        ({"name": "bea", "role": "viewer"}, 409), ({"name": "x y", "role": "viewer"}, 400),
        ({"name": "cy", "role": "root"}, 400), ({"name": "cy", "role": "viewer", "password": "short"}, 400),
        ({"role": "viewer"}, 400),
    ]
    for body, status in cases:
        async with http.post(f"{gw.url}/api/v1/users", headers=admin, json=body) as r:
            assert r.status == status, (body, await r.json())
    async with http.post(f"{gw.url}/api/v1/users", headers=admin,
                         json={"name": "cy", "role": "viewer", "password": "a chosen long password"}) as r:
        assert r.status == 201 and (await r.json())["password"] is None  # not echoed when chosen
    async with http.delete(f"{gw.url}/api/v1/users/root", headers=admin, json={}) as r:
        assert r.status == 409 and "last admin" in (await r.json())["error"]
    async with http.patch(f"{gw.url}/api/v1/users/root", headers=admin, json={"role": "viewer"}) as r:
        assert r.status == 409
    async with http.delete(f"{gw.url}/api/v1/users/bea", headers=admin, json={}) as r:
        assert r.status == 200
    async with http.get(f"{gw.url}/api/v1/users", headers=admin) as r:
        assert [u["name"] for u in (await r.json())["users"]] == ["cy", "root"]
    assert gw.app[USERS].get("bea") is None
    audit = [(a, act, t) for a, act, t in actions(gw) if act.startswith("user.")]
    assert audit == [("user:root", "user.add", "user:bea"), ("user:root", "user.role", "user:bea"),
                     ("user:root", "user.passwd", "user:bea"), ("user:root", "user.add", "user:cy"),
                     ("user:root", "user.remove", "user:bea")]
    assert all(new_password not in str(e.detail) and created["password"] not in str(e.detail)
               for e in gw.app[AUDIT].entries())


async def test_people_act_on_alerts_under_their_own_name_and_it_is_audited(http, gw):
    from gateway.store.records import WriteBatch
    from tests.gateway.helpers import fall_alert

    alert = fall_alert("p1")
    gw.store.write(WriteBatch(events=[alert]))
    keys = Keys(gw)
    url = f"{gw.url}/api/v1/alerts/{alert.event_id}"
    async with http.post(f"{url}/acknowledge", headers=keys.user("ann", Role.CLINICIAN), json={}) as r:
        assert r.status == 200 and (await r.json())["acknowledged_by"] == "ann"  # the signed-in user
    async with http.post(f"{url}/resolve", headers=keys.user("cho", Role.CLINICIAN), json={"by": "ann"}) as r:
        assert r.status == 403  # nobody acts under another's name
    async with http.post(f"{url}/resolve", headers=keys.user("cho", Role.CLINICIAN), json={"by": "cho"}) as r:
        assert r.status == 200 and (await r.json())["resolved_by"] == "cho"
    entries = [e for e in gw.app[AUDIT].entries() if e.action.startswith("alert.")]
    assert [(e.actor, e.action, e.target) for e in entries] == [
        ("user:ann", "alert.acknowledge", alert.event_id), ("user:cho", "alert.resolve", alert.event_id)]
    assert entries[1].detail == {"device": "p1", "model": "fall", "label": "fall", "state": "resolved"}
    assert gw.app[AUDIT].verify().ok


async def test_every_auth_and_audit_answer_matches_the_openapi_document(http, gw):
    import jsonschema

    keys = Keys(gw)
    admin = keys.user("root", Role.ADMIN)
    async with http.get(f"{gw.url}/api/v1/openapi.json") as r:
        doc = await r.json()

    def check(path: str, method: str, status: int, body: object) -> None:
        schema = doc["paths"][path][method]["responses"][str(status)]["content"]["application/json"]["schema"]
        jsonschema.validate(body, {**schema, "components": doc["components"]})

    calls = [
        ("/api/v1/login", "post", {"json": {"username": "root", "password": PASSWORD}}, 200),
        ("/api/v1/tokens", "post", {"json": {"username": "root", "password": PASSWORD}}, 201),
        ("/api/v1/me", "get", {"headers": admin}, 200),
        ("/api/v1/users", "get", {"headers": admin}, 200),
        ("/api/v1/users", "post", {"headers": admin, "json": {"name": "dee", "role": "viewer"}}, 201),
        ("/api/v1/users/{name}", "patch", {"headers": admin, "json": {"role": "clinician"}}, 200),
        ("/api/v1/audit", "get", {"headers": admin}, 200),
        ("/api/v1/audit/verify", "get", {"headers": admin}, 200),
    ]
    for path, method, kwargs, status in calls:
        async with http.request(method.upper(), f"{gw.url}{path.format(name='dee')}", **kwargs) as r:
            body = await r.json()
            assert r.status == status, (path, body)
            check(path, method, status, body)
    with pytest.raises(jsonschema.ValidationError):  # the schemas are strict enough to notice a dropped field
        check("/api/v1/me", "get", 200, {"user": "root", "role": "admin"})
