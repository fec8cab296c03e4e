"""The authentication part of the OpenAPI document: the sign-in, user and audit paths, the security
schemes, and each operation's access (``x-iomt-access``: public, edge, viewer, clinician, admin)
taken from the running application's route declarations."""

from __future__ import annotations

import copy
from typing import Any

from aiohttp import web

from gateway import serde
from gateway.audit import AuditEntry, Verification
from gateway.auth.access import route_access
from gateway.auth.records import CreatedUser, IssuedToken, Me, SessionInfo

_ERROR = {"description": "What was wrong",
          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}

SECURITY_SCHEMES = {
    "session": {"type": "apiKey", "in": "cookie", "name": "iomt_session",
                "description": "Browser session from POST /api/v1/login (HttpOnly, SameSite=Strict)"},
    "bearer": {"type": "http", "scheme": "bearer",
               "description": "An API token from POST /api/v1/tokens, an edge's uplink token, or the metrics "
                              "scrape token"},
}


def _ok(schema: dict[str, Any], status: str = "200") -> dict[str, Any]:
    return {status: {"description": "OK", "content": {"application/json": {"schema": schema}}}}


def _body(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": required, "properties": properties}}}}


_STRING = {"type": "string"}
_CREDENTIALS = {"username": _STRING, "password": {"type": "string", "format": "password"}}
_NAME = [{"name": "name", "in": "path", "required": True, "description": "User name", "schema": _STRING}]
_ROLE = {"type": "string", "enum": ["viewer", "clinician", "admin"]}


def auth_paths() -> dict[str, Any]:
    """The paths of :mod:`gateway.api.auth_routes` and :mod:`gateway.api.audit_routes`."""
    return {
        "/login": {"get": {"summary": "The sign-in page (HTML)", "responses": {"200": {"description": "HTML"}}}},
        "/api/v1/login": {"post": {
            "summary": "Sign in: sets the session cookie. 401 on a wrong name or password, 429 (Retry-After) "
                       "after repeated failures",
            "requestBody": _body(_CREDENTIALS, ["username", "password"]),
            "responses": {**_ok(serde.ref(SessionInfo)), "400": _ERROR, "401": _ERROR, "415": _ERROR,
                          "429": _ERROR}}},
        "/api/v1/logout": {"post": {"summary": "End the session or token this request was made with",
                                    "responses": {**_ok({"type": "object"}), "401": _ERROR}}},
        "/api/v1/tokens": {"post": {
            "summary": "An API token (Authorization: Bearer) for a user, shown once",
            "requestBody": _body({**_CREDENTIALS, "label": _STRING,
                                  "ttl_s": {"type": "number", "description": "Lifetime in seconds"}},
                                 ["username", "password"]),
            "responses": {**_ok(serde.ref(IssuedToken), "201"), "400": _ERROR, "401": _ERROR, "415": _ERROR,
                          "429": _ERROR}}},
        "/api/v1/me": {"get": {"summary": "Who this request is signed in as", "responses": _ok(serde.ref(Me))}},
        "/api/v1/users": {
            "get": {"summary": "Every user and role", "responses": _ok(serde.USERS.schema())},
            "post": {"summary": "Add a user; without a password one is generated and answered once",
                     "requestBody": _body({"name": _STRING, "role": _ROLE, "password": _STRING}, ["name", "role"]),
                     "responses": {**_ok(serde.ref(CreatedUser), "201"), "400": _ERROR, "409": _ERROR}}},
        "/api/v1/users/{name}": {
            "patch": {"summary": "Change a user's role and/or password (null: generate one, answered once); a new "
                                 "password ends the user's sessions and tokens",
                      "parameters": _NAME,
                      "requestBody": _body({"role": _ROLE, "password": {"type": ["string", "null"]}}, []),
                      "responses": {**_ok(serde.ref(CreatedUser)), "400": _ERROR, "404": _ERROR, "409": _ERROR}},
            "delete": {"summary": "Remove a user and end their sessions and tokens (never the last admin)",
                       "parameters": _NAME,
                       "responses": {**_ok({"type": "object"}), "404": _ERROR, "409": _ERROR}}},
        "/api/v1/audit": {"get": {
            "summary": "Audit log entries after `since`, oldest first",
            "parameters": [{"name": n, "in": "query", "required": False, "description": d,
                            "schema": {"type": "integer"}}
                           for n, d in (("since", "Sequence number to start after (default 0)"),
                                        ("limit", "1..10000, default 500"))],
            "responses": {**_ok({"type": "object", "required": ["entries"], "properties": {
                "entries": {"type": "array", "items": serde.ref(AuditEntry)}}}), "400": _ERROR}}},
        "/api/v1/audit/verify": {"get": {"summary": "Check the audit log's hash chain",
                                         "responses": _ok(serde.ref(Verification))}},
    }


def annotate_access(document: dict[str, Any], app: web.Application) -> dict[str, Any]:
    """A copy of ``document`` in which every operation says who may call it (``x-iomt-access``), how
    (``security``) and what a refusal looks like (401, 403, 415)."""
    doc = copy.deepcopy(document)
    doc.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
    for route in app.router.routes():
        resource = route.resource
        access = route_access(route)
        if resource is None or access is None or route.method == "HEAD":
            continue
        operation = doc["paths"].get(resource.canonical, {}).get(route.method.lower())
        if operation is None:
            continue
        operation["x-iomt-access"] = access.describe()
        responses = operation.setdefault("responses", {})
        if access.public:
            operation["security"] = []
        else:
            operation["security"] = [{"bearer": []}] if access.edges else [{"session": []}, {"bearer": []}]
            responses.setdefault("401", _ERROR)
            responses.setdefault("403", _ERROR)
        if route.method in ("POST", "PUT", "PATCH", "DELETE"):
            responses.setdefault("415", _ERROR)
    return doc
