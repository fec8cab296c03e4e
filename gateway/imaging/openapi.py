"""The image API's part of the OpenAPI document (schemas from :mod:`gateway.serde`'s records)."""

from __future__ import annotations

from typing import Any

from gateway import serde
from gateway.imaging.records import ImageView, Layer, MaskView
from gateway.imaging.routes import MAX_IMAGES

_ERROR = {"description": "What was wrong",
          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_PNG_MEDIA: dict[str, Any] = {"schema": {"type": "string", "format": "binary"}}
_PNG: dict[str, Any] = {"description": "PNG (8-bit grayscale)", "content": {"image/png": _PNG_MEDIA}}
_TIME = "Epoch seconds or ISO 8601 with a zone"


def _ok(schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": "OK", "content": {"application/json": {"schema": schema}}}


def _path(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description, "schema": {"type": "string"}}


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


_IMAGE_ID = _path("image_id", "The image's id (32 hex digits, from the listing)")


def paths() -> dict[str, Any]:
    """The image API's paths; who may call each (``x-iomt-access``) is added from the handlers' declarations
    with the rest of the document's (:mod:`gateway.auth.openapi`)."""
    return {
        "/api/v1/patients/{device}/images": {"get": {
            "summary": "A patient's images, newest first (the patient they name, or the imaging device's id): time, "
                       "modality, spacing, size, mask layers, the model's finding",
            "parameters": [_path("device", "Patient id"), _query("start", _TIME, {"type": "string"}),
                           _query("end", _TIME, {"type": "string"}),
                           _query("limit", f"1..{MAX_IMAGES}, default 50", {"type": "integer"})],
            "responses": {"200": _ok(serde.IMAGES.schema()), "400": _ERROR}}},
        "/api/v1/images/{image_id}": {"get": {
            "summary": "One image's record", "parameters": [_IMAGE_ID],
            "responses": {"200": _ok(serde.ref(ImageView)), "404": _ERROR}}},
        "/api/v1/images/{image_id}/image.png": {"get": {
            "summary": "The image, decrypted on the gateway, as PNG", "parameters": [_IMAGE_ID],
            "responses": {"200": _PNG, "404": _ERROR}}},
        "/api/v1/images/{image_id}/masks/{layer}": {"get": {
            "summary": "A mask layer: run lengths (JSON, iomt.wire.masks) or a PNG (255 inside)",
            "parameters": [_IMAGE_ID, _path("layer", " | ".join(str(v) for v in Layer)),
                           _query("format", "json (default) | png", {"type": "string", "enum": ["json", "png"]})],
            "responses": {"200": {"description": "JSON run lengths, or PNG with format=png", "content": {
                "application/json": {"schema": serde.ref(MaskView)}, "image/png": _PNG_MEDIA}},
                "400": _ERROR, "404": _ERROR}}},
        "/api/v1/edge/device-keys": {"get": {
            "summary": "Edges only (Authorization: Bearer <uplink token>): the keys of the active devices of the "
                       "edge's site (each one's newest), or of one device (and key version); every release is "
                       "audited",
            "parameters": [_query("device", "One device", {"type": "string"}),
                           _query("key_id", "Its key version (with device)", {"type": "integer"})],
            "responses": {"200": _ok(serde.DEVICE_KEYS.schema()), "400": _ERROR, "401": _ERROR, "403": _ERROR,
                          "404": _ERROR, "503": _ERROR}}},
    }
