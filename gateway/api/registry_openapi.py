"""The device registry's paths in the OpenAPI document (:mod:`gateway.api.registry_routes`); the
response schemas come from :mod:`gateway.serde`, the closed sets from their enums."""

from __future__ import annotations

from typing import Any

from gateway import serde
from gateway.api.registry_records import IssuedCredentials, RegistryEntry
from gateway.api.registry_routes import PREFIX
from gateway.registry.records import Kind

_ERROR = {"description": "What was wrong",
          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_UNAVAILABLE = {**_ERROR, "description": "No registry configured ([gateway.registry]), or the broker did not take "
                                          "the change (the answer says what stands)"}
_KINDS = {"type": "string", "enum": [k.value for k in Kind]}
_NAME = [{"name": "name", "in": "path", "required": True, "description": "The identity: device id, edge node id "
          "or gateway name", "schema": {"type": "string"}}]


def _ok(schema: dict[str, Any], status: str = "200") -> dict[str, Any]:
    return {status: {"description": "OK", "content": {"application/json": {"schema": schema}}}}


def _body(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"required": bool(required), "content": {"application/json": {"schema": {
        "type": "object", "required": required, "properties": properties, "additionalProperties": False}}}}


def registry_paths() -> dict[str, Any]:
    """The paths of :mod:`gateway.api.registry_routes`."""
    query = [{"name": n, "in": "query", "required": False, "description": d, "schema": s} for n, d, s in (
        ("kind", "Only this kind", _KINDS),
        ("site", "Only this site ('+': gateways of every site)", {"type": "string"}),
        ("active", "true: leave out revoked identities", {"type": "string", "enum": ["true", "false"]}))]
    credentials = _ok(serde.ref(IssuedCredentials))
    return {
        PREFIX: {
            "get": {"summary": "Enrolled devices, edges and gateways with their state (never their secrets)",
                    "parameters": query,
                    "responses": {**_ok(serde.REGISTRY.schema()), "400": _ERROR, "503": _UNAVAILABLE}},
            "post": {"summary": "Enrol a device, edge or gateway; its credentials are answered once",
                     "requestBody": _body({
                         "name": {"type": "string", "description": "Device id, edge node id or gateway name"},
                         "kind": {**_KINDS, "default": Kind.DEVICE.value},
                         "site": {"type": "string", "description": "Its site ('+' only for a gateway)"},
                         "device_key": {"type": "boolean", "default": True,
                                        "description": "Devices: issue an end-to-end key"}}, ["name", "site"]),
                     "responses": {**_ok(serde.ref(IssuedCredentials), "201"), "400": _ERROR,
                                   "409": {**_ERROR, "description": "The name is already enrolled (names are never "
                                                                    "reused)"},
                                   "503": _UNAVAILABLE}},
        },
        f"{PREFIX}/{{name}}": {"get": {"summary": "One identity and its state", "parameters": _NAME,
                                       "responses": {**_ok(serde.ref(RegistryEntry)), "404": _ERROR,
                                                     "503": _UNAVAILABLE}}},
        f"{PREFIX}/{{name}}/rotate": {"post": {
            "summary": "New credentials, answered once; the old password (and an edge's uplink token) stop working",
            "parameters": _NAME,
            "requestBody": _body({"new_device_key": {"type": "boolean", "default": False,
                                                     "description": "Devices: also a new end-to-end key version"}},
                                 []),
            "responses": {**credentials, "400": _ERROR, "404": _ERROR,
                          "409": {**_ERROR, "description": "The identity is revoked"}, "503": _UNAVAILABLE}}},
        f"{PREFIX}/{{name}}/revoke": {"post": {
            "summary": "Revoke at once: the broker disconnects and refuses it (no restart), the uplink refuses an "
                       "edge's token. Idempotent",
            "parameters": _NAME, "requestBody": _body({}, []),
            "responses": {**_ok(serde.ref(RegistryEntry)), "404": _ERROR, "503": _UNAVAILABLE}}},
    }
