"""The API role matrix: every endpoint x (no credential, viewer, clinician, admin, an edge) against a
running gateway, with the status each must get. The table is written out here, not read from the
routes' declarations, and it must list every route the gateway serves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gateway.auth import Role
from gateway.auth.context import USERS
from gateway.config import GatewayConfig
from gateway.server import RunningGateway, running_gateway
from tests.gateway.auth_helpers import Keys, bearer
from tests.gateway.helpers import ecg_frame, uplink_body

CALLERS = ("nobody", "viewer", "clinician", "admin", "edge")
RANK = {"viewer": 0, "clinician": 1, "admin": 2}

#: (method, path template) -> (who may call it, the status a permitted caller gets, request body).
#: The status shows the handler ran: 200 for reads, 404/409/401 where the request names nothing real.
ENDPOINTS: dict[tuple[str, str], tuple[str, int, Any]] = {
    ("GET", "/"): ("viewer-page", 200, None),
    ("GET", "/login"): ("public", 200, None),
    ("GET", "/healthz"): ("public", 200, None),
    ("GET", "/api/v1/openapi.json"): ("public", 200, None),
    ("GET", "/metrics"): ("admin", 200, None),
    ("POST", "/api/v1/uplink"): ("edge", 200, "uplink"),
    ("GET", "/api/v1/live"): ("viewer", 400, None),  # past the checks; not a WebSocket handshake (test_ws)
    ("GET", "/api/v1/summary"): ("viewer", 200, None),
    ("GET", "/api/v1/patients"): ("viewer", 200, None),
    ("GET", "/api/v1/devices"): ("viewer", 200, None),
    ("GET", "/api/v1/patients/{device}"): ("viewer", 404, None),
    ("GET", "/api/v1/patients/{device}/streams/{stream}"): ("viewer", 200, None),
    ("GET", "/api/v1/events"): ("viewer", 200, None),
    ("GET", "/api/v1/alerts"): ("viewer", 200, None),
    ("POST", "/api/v1/alerts/{event_id}/acknowledge"): ("clinician", 404, {}),
    ("POST", "/api/v1/alerts/{event_id}/resolve"): ("clinician", 404, {}),
    ("GET", "/api/v1/edges"): ("viewer", 200, None),
    ("GET", "/api/v1/edges/{node}/models"): ("viewer", 404, None),
    ("GET", "/api/v1/models"): ("viewer", 200, None),
    ("POST", "/api/v1/login"): ("public", 401, {"username": "nobody", "password": "not the password"}),
    ("POST", "/api/v1/tokens"): ("public", 401, {"username": "nobody", "password": "not the password"}),
    ("POST", "/api/v1/logout"): ("viewer", 200, {}),
    ("GET", "/api/v1/me"): ("viewer", 200, None),
    ("GET", "/api/v1/users"): ("admin", 200, None),
    ("POST", "/api/v1/users"): ("admin", 201, "new-user"),
    ("PATCH", "/api/v1/users/{name}"): ("admin", 404, {"role": "viewer"}),
    ("DELETE", "/api/v1/users/{name}"): ("admin", 404, {}),
    ("GET", "/api/v1/audit"): ("admin", 200, None),
    ("GET", "/api/v1/audit/verify"): ("admin", 200, None),
    # this gateway has no device registry: an admin gets past the checks to the 503 saying what to configure
    ("GET", "/api/v1/registry/identities"): ("admin", 503, None),
    ("POST", "/api/v1/registry/identities"): ("admin", 503, {"name": "dev-matrix", "site": "s1"}),
    ("GET", "/api/v1/registry/identities/{name}"): ("admin", 503, None),
    ("POST", "/api/v1/registry/identities/{name}/rotate"): ("admin", 503, {}),
    ("POST", "/api/v1/registry/identities/{name}/revoke"): ("admin", 503, {}),
    ("GET", "/api/v1/patients/{device}/images"): ("viewer", 200, None),
    ("GET", "/api/v1/images/{image_id}"): ("viewer", 404, None),
    ("GET", "/api/v1/images/{image_id}/image.png"): ("viewer", 404, None),
    ("GET", "/api/v1/images/{image_id}/masks/{layer}"): ("viewer", 404, None),
    # past the checks: this gateway has no device registry, so it holds no device keys (503)
    ("GET", "/api/v1/edge/device-keys"): ("edge", 503, None),
    # the central station (gateway.station.routes)
    ("GET", "/api/v1/station"): ("viewer", 200, None),
    ("GET", "/api/v1/vitals"): ("viewer", 200, None),
    ("GET", "/api/v1/news2"): ("viewer", 200, None),
    ("GET", "/api/v1/patients/{device}/vitals"): ("viewer", 200, None),
    ("GET", "/api/v1/patients/{device}/news2"): ("viewer", 200, None),
    ("GET", "/api/v1/patients/{device}/beats"): ("viewer", 200, None),
    ("GET", "/api/v1/patients/{device}/limits"): ("viewer", 200, None),
    ("PUT", "/api/v1/patients/{device}/limits"): ("clinician", 200, {"limits": {"hr": {"high": 110}}}),
    ("POST", "/api/v1/patients/{device}/limits/reset"): ("clinician", 200, {}),
    ("GET", "/api/v1/patients/{device}/limits/history"): ("viewer", 200, None),
    ("GET", "/api/v1/limits/defaults"): ("viewer", 200, None),
    ("GET", "/api/v1/patient-registry"): ("viewer", 200, None),
    ("GET", "/api/v1/patient-registry/{device}"): ("viewer", 200, None),
    ("PUT", "/api/v1/patient-registry/{device}"): ("admin", 200, {"bed": "1"}),
    ("PUT", "/api/v1/patient-registry/{device}/clinical"): ("clinician", 200, {"spo2_scale": "1"}),
}
PATH_VALUES = {"device": "p404", "stream": "ecg", "event_id": "0" * 32, "node": "edge-404", "name": "ghost",
               "image_id": "0" * 32, "layer": "predicted"}


def expected(access: str, caller: str, ok: int) -> int:
    if access == "public":
        return ok
    if access == "edge":
        return ok if caller == "edge" else 401
    role = access.removesuffix("-page")
    if caller in ("nobody", "edge"):  # an edge's token is no person's credential
        return 303 if access.endswith("-page") and caller == "nobody" else 401
    return ok if RANK[caller] >= RANK[role] else 403


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[RunningGateway]:
    async with running_gateway(GatewayConfig(port=0, db_path=tmp_path / "gw.sqlite")) as running:
        yield running


def test_the_matrix_covers_every_route_and_every_route_declares_its_access(gw):
    served = set()
    for route in gw.app.router.routes():
        resource = route.resource
        if route.method == "HEAD" or resource is None or resource.canonical.startswith("/static"):
            continue
        served.add((route.method, resource.canonical))
    assert served == set(ENDPOINTS), {"not in the matrix": served - set(ENDPOINTS),
                                      "not served": set(ENDPOINTS) - served}


async def test_every_endpoint_for_every_role_and_without_credentials(gw):
    keys = Keys(gw)
    n = 0

    def headers(caller: str) -> dict[str, str]:
        nonlocal n
        n += 1
        if caller == "nobody":
            return {}
        if caller == "edge":
            return bearer(keys.edge_token("edge-1"))
        # a fresh token per request: logout ends the token it is made with
        users = keys.gw.app[USERS]
        keys.token(f"{caller}-user", Role(caller))
        return bearer(users.issue_token(f"{caller}-user", "matrix", 600).secret)

    seen: list[tuple[str, str, str, int, int]] = []
    async with aiohttp.ClientSession() as http:
        for (method, template), (access, ok, body) in ENDPOINTS.items():
            path = template.format(**PATH_VALUES)
            for caller in CALLERS:
                h = headers(caller)
                kwargs: dict[str, Any] = {"allow_redirects": False}
                if body == "uplink":
                    kwargs["data"] = uplink_body(frames=[ecg_frame("p1", n)])
                    h = {**h, "Content-Type": "application/x-iomt-uplink"}
                elif body == "new-user":
                    kwargs["json"] = {"name": f"made-by-{caller}-{n}", "role": "viewer"}
                elif isinstance(body, dict) and "password" in body:
                    kwargs["json"] = {**body, "username": f"nobody-{n}"}  # one failure per name: no lockout
                elif body is not None:
                    kwargs["json"] = body
                async with http.request(method, f"{gw.url}{path}", headers=h, **kwargs) as r:
                    want = expected(access, caller, ok)
                    seen.append((method, template, caller, r.status, want))
                    if r.status >= 400:
                        assert r.content_type == "application/json", (method, path, caller)
                        error = await r.json()
                        assert error["status"] == r.status and error["error"]
                    if r.status == 401 and access != "public":
                        assert "Bearer" in r.headers["WWW-Authenticate"]
                    if r.status == 303:
                        assert r.headers["Location"].startswith("/login?next=")
    wrong = [s for s in seen if s[3] != s[4]]
    assert not wrong, "\n".join(f"{m} {p} as {c}: got {got}, want {want}" for m, p, c, got, want in wrong)
    assert len(seen) == len(ENDPOINTS) * len(CALLERS)


async def test_the_scrape_token_reads_metrics_and_nothing_else(tmp_path):
    from pydantic import SecretStr

    from gateway.config import AuthConfig

    config = GatewayConfig(port=0, db_path=tmp_path / "gw.sqlite",
                           auth=AuthConfig(metrics_token=SecretStr("scrape-me-0123456789")))
    async with running_gateway(config) as gw, aiohttp.ClientSession() as http:
        async with http.get(f"{gw.url}/metrics", headers=bearer("scrape-me-0123456789")) as r:
            assert r.status == 200 and "iomt_gateway_uplink_batches" in await r.text()
        async with http.get(f"{gw.url}/metrics", headers=bearer("scrape-me-wrong")) as r:
            assert r.status == 401
        for path in ("/api/v1/patients", "/api/v1/audit"):
            async with http.get(f"{gw.url}{path}", headers=bearer("scrape-me-0123456789")) as r:
                assert r.status == 401, path


async def test_the_openapi_document_states_each_operations_access(gw):
    async with aiohttp.ClientSession() as http, http.get(f"{gw.url}/api/v1/openapi.json") as r:
        doc = await r.json()
    for (method, template), (access, _ok, _body) in ENDPOINTS.items():
        operation = doc["paths"][template][method.lower()]
        stated = operation["x-iomt-access"]
        assert stated.split("+")[0] == access.removesuffix("-page"), (method, template, stated)
        if access != "public":
            assert "401" in operation["responses"] and "403" in operation["responses"]
    assert set(doc["components"]["securitySchemes"]) == {"session", "bearer"}


async def test_a_route_that_declares_no_access_stops_the_gateway_from_starting(tmp_path):
    from aiohttp import web

    from gateway.app import create_app

    async def forgotten(_request: web.Request) -> web.Response:
        return web.json_response({"patients": "all of them"})

    app = create_app(GatewayConfig(port=0, db_path=tmp_path / "gw.sqlite"))
    app.router.add_get("/api/v1/forgotten", forgotten)
    runner = web.AppRunner(app)
    with pytest.raises(RuntimeError, match=r"routes without an access declaration .*GET /api/v1/forgotten"):
        await runner.setup()
    await runner.cleanup()
