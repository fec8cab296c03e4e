"""The image store through a real gateway on both deployments (SQLite; InfluxDB on a real influxd with the
images beside it): uplink batches as an edge sends them, then the API a viewer uses.

Also what must be refused: tampered, unencrypted, foreign-key and replayed images; and that keys stay out
of the logs and pixels out of the files at rest."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import jsonschema
import numpy as np
import pytest
from PIL import Image as PilImage

from gateway.audit import AuditLog
from gateway.auth import Role
from gateway.config import GatewayConfig, InfluxConfig
from gateway.imaging.config import ImagingConfig
from gateway.server import RunningGateway, running_gateway
from gateway.state import CONFIG
from gateway.store.records import EventQuery, Table
from iomt.wire.chunks import encode_image
from iomt.wire.masks import decode_rle
from iomt.wire.sealed_image import wrap_legacy_image
from iomt.wire.uplink import CONTENT_TYPE
from tests.gateway.auth_helpers import Keys, bearer
from tests.gateway.imaging_helpers import (
    DEVICE,
    EDGE,
    PATIENT,
    SPACING,
    Enrolled,
    enrolled_registry,
    image_batch,
    lesion_event,
    sealed_image,
)


@pytest.fixture(params=["sqlite", "influxdb"])
async def deployment(request: pytest.FixtureRequest, tmp_path: Path
                     ) -> AsyncIterator[tuple[RunningGateway, Enrolled, aiohttp.ClientSession, str]]:
    enrolled = enrolled_registry(tmp_path / "registry", devices=(DEVICE, "us-0002"), other_site=("us-9999",))
    config = GatewayConfig(port=0, db_path=tmp_path / "data" / "gateway.sqlite", registry=enrolled.config)
    if request.param == "influxdb":
        server = request.getfixturevalue("influxd")
        config = config.model_copy(update={"backend": "influxdb", "influx": InfluxConfig(
            url=server.url, database=f"t{uuid.uuid4().hex[:12]}")})
    # the session reads as a viewer; the uplink and the key requests send the edge's own token
    async with running_gateway(config) as gw, aiohttp.ClientSession(headers=Keys(gw).role(Role.VIEWER)) as http:
        yield gw, enrolled, http, request.param


async def post(http: aiohttp.ClientSession, gw: RunningGateway, edge_token: str, body: bytes) -> dict[str, int]:
    """An uplink batch as the edge sends it, with the uplink token the registry issued it."""
    async with http.post(f"{gw.url}/api/v1/uplink", data=body,
                         headers={"Content-Type": CONTENT_TYPE, "X-Iomt-Node": EDGE, **bearer(edge_token)}) as r:
        assert r.status == 200, await r.text()
        return await r.json()  # type: ignore[no-any-return]


async def get_json(http: aiohttp.ClientSession, url: str, status: int = 200) -> Any:
    async with http.get(url) as r:
        assert r.status == status, await r.text()
        assert r.headers.get("Cache-Control") == "private, no-store" or status != 200 or "openapi" in url
        return await r.json()


async def get_png(http: aiohttp.ClientSession, url: str) -> np.ndarray:
    async with http.get(url) as r:
        assert r.status == 200, await r.text()
        assert r.content_type == "image/png"
        return np.asarray(PilImage.open(io.BytesIO(await r.read())))


def refusals(metrics: str) -> dict[str, float]:
    out = {}
    for line in metrics.splitlines():
        if line.startswith("iomt_gateway_image_refusals_total{"):
            field = line.split('field="')[1].split('"')[0]
            out[field] = float(line.rsplit(" ", 1)[1])
    return out


async def test_images_with_their_layers_and_finding_round_trip_through_the_api(deployment, caplog) -> None:
    gw, enrolled, http, _backend = deployment
    caplog.set_level(logging.DEBUG)
    key = enrolled.keys[DEVICE]
    first, image1, mask1 = sealed_image(1, key)
    second, image2, mask2 = sealed_image(2, key)
    # the lesion event of image 2 arrives before its image (another batch): both find each other
    ack = await post(http, gw, enrolled.edge_token, image_batch(events=[lesion_event(DEVICE, image2, mask2)]))
    assert ack == {"stored": 1, "duplicates": 0, "rejected": 0}
    ack = await post(http, gw, enrolled.edge_token,
                     image_batch([first, second], [lesion_event(DEVICE, image1, np.zeros_like(mask1))]))
    assert ack == {"stored": 3, "duplicates": 0, "rejected": 0}

    listing = await get_json(http, f"{gw.url}/api/v1/patients/{PATIENT}/images")
    images = listing["images"]
    assert [i["seq"] for i in images] == [2, 1]  # newest first
    newest = images[0]
    assert newest["patient"] == PATIENT and newest["device"] == DEVICE and newest["modality"] == "ultrasound"
    assert newest["t_us"] == image2.t_us and (newest["width"], newest["height"]) == (64, 64)
    assert tuple(newest["spacing_mm"]) == SPACING and newest["encrypted_in_transit"] is True
    assert newest["device_key_id"] == key[0] and newest["node"] == EDGE
    assert {layer["layer"] for layer in newest["layers"]} == {"predicted", "ground_truth"}
    area = int(mask2.sum())
    finding = newest["finding"]
    assert finding["label"] == "lesion" and finding["confidence"] == pytest.approx(0.87)
    assert finding["model_version"] == "1.0.0" and finding["area_px"] == area and finding["lesions"] == 1
    assert finding["area_mm2"] == pytest.approx(area * SPACING[0] * SPACING[1], rel=1e-3)
    assert images[1]["finding"]["label"] == "no_lesion" and images[1]["finding"]["area_px"] == 0
    # the imaging device's own id lists the same images
    assert len((await get_json(http, f"{gw.url}/api/v1/patients/{DEVICE}/images"))["images"]) == 2
    assert (await get_json(http, f"{gw.url}/api/v1/patients/patient-0099/images"))["images"] == []

    image_id = newest["image_id"]
    assert (await get_json(http, f"{gw.url}/api/v1/images/{image_id}")) == newest
    pixels = await get_png(http, f"{gw.url}/api/v1/images/{image_id}/image.png")
    assert np.array_equal(pixels, image2.pixels)
    truth = await get_json(http, f"{gw.url}/api/v1/images/{image_id}/masks/ground_truth")
    assert truth["source"] == "simulator" and truth["shape"] == [64, 64] and truth["area_px"] == area
    assert np.array_equal(decode_rle(truth["mask_rle"], (64, 64)), mask2)
    predicted = await get_json(http, f"{gw.url}/api/v1/images/{image_id}/masks/predicted")
    assert predicted["source"] == f"edge:{EDGE}" and predicted["model_version"] == "1.0.0"
    assert np.array_equal(decode_rle(predicted["mask_rle"], (64, 64)), mask2)
    as_png = await get_png(http, f"{gw.url}/api/v1/images/{image_id}/masks/predicted?format=png")
    assert np.array_equal(as_png == 255, mask2)

    # the stored lesion event keeps its finding but not its mask (masks rest encrypted in the image store)
    events = gw.store.events(EventQuery(device=DEVICE, model="imaging"))
    assert len(events) == 2 and all("mask_rle" not in e.detail for e in events)
    assert {e.detail["mask"]["image_id"] for e in events} == {i["image_id"] for i in images}

    # bad parameters and unknown ids answer 400/404 with JSON naming the problem
    body = await get_json(http, f"{gw.url}/api/v1/images/{image_id}/masks/contour", status=404)
    assert "no 'contour' layer" in body["error"]
    body = await get_json(http, f"{gw.url}/api/v1/images/{image_id}/masks/predicted?format=gif", status=400)
    assert body["error"].startswith("format:")
    assert (await get_json(http, f"{gw.url}/api/v1/images/{'0' * 32}", status=404))["status"] == 404
    body = await get_json(http, f"{gw.url}/api/v1/patients/{PATIENT}/images?limit=0", status=400)
    assert body["error"].startswith("limit:")
    async with http.get(f"{gw.url}/api/v1/images/not-an-id/image.png") as r:
        assert r.status == 404

    # every JSON answer matches the OpenAPI document (derived from the same records)
    doc = await get_json(http, f"{gw.url}/api/v1/openapi.json")
    for template, body in (("/api/v1/patients/{device}/images", listing), ("/api/v1/images/{image_id}", newest),
                           ("/api/v1/images/{image_id}/masks/{layer}", truth)):
        schema = doc["paths"][template]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        jsonschema.validate(body, {**schema, "components": doc["components"]})
        assert doc["paths"][template]["get"]["x-iomt-access"] == "viewer"
    assert doc["paths"]["/api/v1/edge/device-keys"]["get"]["x-iomt-access"] == "edge"

    # nobody signed in reads no image, no pixels and no mask; an edge's token is not a person's
    async with aiohttp.ClientSession() as anonymous:
        for path in (f"/api/v1/patients/{PATIENT}/images", f"/api/v1/images/{image_id}",
                     f"/api/v1/images/{image_id}/image.png", f"/api/v1/images/{image_id}/masks/predicted"):
            async with anonymous.get(f"{gw.url}{path}") as r:
                assert r.status == 401, path
            async with anonymous.get(f"{gw.url}{path}", headers=bearer(enrolled.edge_token)) as r:
                assert r.status == 401, path

    for device, (_key_id, raw) in enrolled.keys.items():
        assert raw.hex() not in caplog.text, device


async def test_tampered_unencrypted_foreign_and_replayed_images_are_refused_and_counted(deployment) -> None:
    gw, enrolled, http, _backend = deployment
    key = enrolled.keys[DEVICE]
    good, image, _ = sealed_image(5, key)
    tampered = bytearray(good)
    tampered[-40] ^= 0x10
    plain = encode_image(image)
    legacy = wrap_legacy_image(plain, device=DEVICE)
    other_key, _, _ = sealed_image(6, enrolled.keys["us-0002"], device=DEVICE)  # us-0002's key, claims us-0001
    wrong_id = bytearray(sealed_image(7, key)[0])
    wrong_id[6:10] = (9).to_bytes(4, "little")  # a key version that does not exist
    unknown_device, _, _ = sealed_image(8, key, device="us-4242")
    ack = await post(http, gw, enrolled.edge_token, image_batch([bytes(tampered), plain, legacy, other_key,
                                                                 bytes(wrong_id), unknown_device, b"garbage", good]))
    assert ack == {"stored": 1 + 7, "duplicates": 0, "rejected": 7}  # dead letters are stored rows too
    # a replay of the good image (an attacker, or a redelivery) is recognised, not stored twice
    replayed = await post(http, gw, enrolled.edge_token, image_batch([good]))
    assert replayed == {"stored": 0, "duplicates": 1, "rejected": 0}
    assert [i["seq"] for i in (await get_json(http, f"{gw.url}/api/v1/patients/{PATIENT}/images"))["images"]] == [5]
    assert gw.store.count(Table.DEADLETTERS) == 7
    async with http.get(f"{gw.url}/metrics", headers=Keys(gw).role(Role.ADMIN)) as r:
        counts = refusals(await r.text())
    assert counts == {"tag": 2.0, "encryption": 2.0, "key_id": 2.0, "magic": 1.0}


async def test_legacy_unencrypted_images_only_with_the_switch(tmp_path: Path) -> None:
    enrolled = enrolled_registry(tmp_path / "registry")
    _, image, _ = sealed_image(3, enrolled.keys[DEVICE])
    legacy = wrap_legacy_image(encode_image(image), device="old-xray")
    config = GatewayConfig(port=0, db_path=tmp_path / "gw.sqlite", registry=enrolled.config,
                           imaging=ImagingConfig(require_encryption=False))
    async with running_gateway(config) as gw, aiohttp.ClientSession(headers=Keys(gw).role(Role.VIEWER)) as http:
        ack = await post(http, gw, enrolled.edge_token, image_batch([legacy]))
        assert ack == {"stored": 1, "duplicates": 0, "rejected": 0}
        (stored,) = (await get_json(http, f"{gw.url}/api/v1/patients/old-xray/images"))["images"]
        assert stored["encrypted_in_transit"] is False and stored["device_key_id"] is None
        assert np.array_equal(await get_png(http, f"{gw.url}/api/v1/images/{stored['image_id']}/image.png"),
                              image.pixels)


async def test_images_rest_encrypted_and_outside_influxdb(deployment) -> None:
    gw, enrolled, http, backend = deployment
    payload, image, mask = sealed_image(11, enrolled.keys[DEVICE])
    await post(http, gw, enrolled.edge_token, image_batch([payload], [lesion_event(DEVICE, image, mask)]))
    root = gw.app[CONFIG].db_path.parent
    files = [p for p in (root / "images").rglob("*") if p.is_file()]
    blobs = [p for p in files if p.suffix in (".image", ".mask")]
    assert len(blobs) == 3  # the image, its ground truth and its predicted layer
    pixel_run = image.pixels.tobytes()[64 * 20:64 * 20 + 32]
    rle_text = json.dumps(decode_rle_list(mask)).encode()
    for path in files:
        data = path.read_bytes()
        assert b"\x89PNG" not in data and pixel_run not in data and rle_text not in data, path
        assert PATIENT.encode() not in data or path.name.startswith("index"), path
    for blob in blobs:
        assert blob.read_bytes()[:2] == b"IS" and oct(blob.stat().st_mode & 0o777) == "0o600"
    assert oct((root / "images.key").stat().st_mode & 0o777) == "0o600"
    assert oct((root / "images" / "index.sqlite").stat().st_mode & 0o777) == "0o600"
    if backend == "influxdb":
        server_url, database = _influx(gw)
        names = _influx_query(server_url, database, "SHOW MEASUREMENTS")
        assert not any("image" in n for n in names), names
        rows = _influx_query(server_url, database, f'SELECT * FROM "{database}"."keep"."events"', column=None)
        assert rows and not any("mask_rle" in json.dumps(row) for row in rows)


def decode_rle_list(mask: np.ndarray) -> list[int]:
    from iomt.wire.masks import encode_rle

    return encode_rle(mask)


def _influx(gw: RunningGateway) -> tuple[str, str]:
    influx = gw.app[CONFIG].influx
    return influx.url, influx.database


def _influx_query(url: str, database: str, q: str, column: int | None = 0) -> list[Any]:
    query = urllib.parse.urlencode({"db": database, "q": q})
    with urllib.request.urlopen(f"{url}/query?{query}", timeout=10) as r:
        body = json.loads(r.read())
    series = body["results"][0].get("series", [])
    values = [row for s in series for row in s["values"]]
    return [row[column] for row in values] if column is not None else values


async def test_an_edge_fetches_the_keys_of_its_sites_devices_and_each_release_is_audited(deployment) -> None:
    gw, enrolled, http, _ = deployment
    url = f"{gw.url}/api/v1/edge/device-keys"
    async with http.get(url) as r:  # a viewer's token is no edge's
        assert r.status == 401 and "uplink token" in (await r.json())["error"]
    async with http.get(url, headers={"Authorization": "Bearer edge-1.wrong"}) as r:
        assert r.status == 401
    auth = {"Authorization": f"Bearer {enrolled.edge_token}"}
    async with http.get(url, headers=auth) as r:
        assert r.status == 200 and r.headers["Cache-Control"] == "private, no-store"
        keys = {k["device"]: (k["key_id"], bytes.fromhex(k["key"])) for k in (await r.json())["keys"]}
    assert keys == {DEVICE: enrolled.keys[DEVICE], "us-0002": enrolled.keys["us-0002"]}  # not us-9999 (elsewhere)
    async with http.get(url, params={"device": "us-9999"}, headers=auth) as r:
        assert r.status == 403 and "not of this edge's site" in (await r.json())["error"]
    async with http.get(url, params={"device": "us-7777"}, headers=auth) as r:
        assert r.status == 404
    # after a rotation the edge asks for the new version by number; the old one still opens older images
    rotated = enrolled.registry.rotate(DEVICE, new_device_key=True).device_key
    assert rotated is not None and rotated.key_id == 2
    for key_id, expected in ((2, rotated.key), (1, enrolled.keys[DEVICE][1])):
        async with http.get(url, params={"device": DEVICE, "key_id": str(key_id)}, headers=auth) as r:
            (grant,) = (await r.json())["keys"]
            assert grant["key_id"] == key_id and bytes.fromhex(grant["key"]) == expected
    async with http.get(url, params={"key_id": "2"}, headers=auth) as r:
        assert r.status == 400
    enrolled.registry.revoke("us-0002")
    async with http.get(url, params={"device": "us-0002"}, headers=auth) as r:
        assert r.status == 403
    audit = AuditLog(gw.app[CONFIG].audit_file())  # the gateway's one audit log
    try:
        entries = [e for e in audit.entries() if e.action == "device_key.release"]
        assert len(entries) == 3 and {e.actor for e in entries} == {f"edge:{EDGE}"}
        text = json.dumps([dict(e.detail) for e in entries])
        assert all(raw.hex() not in text for _, raw in enrolled.keys.values())
        assert audit.verify().ok
    finally:
        audit.close()


async def test_images_expire_with_the_events_retention(tmp_path: Path) -> None:
    from gateway.config import RetentionConfig

    enrolled = enrolled_registry(tmp_path / "registry")
    key = enrolled.keys[DEVICE]
    now_us = int(time.time() * 1e6)
    old, old_image, old_mask = sealed_image(1, key, t_us=now_us - 3 * 86_400_000_000)
    new, _, _ = sealed_image(2, key, t_us=now_us)
    config = GatewayConfig(port=0, db_path=tmp_path / "gw.sqlite", registry=enrolled.config,
                           retention=RetentionConfig(events_days=2, prune_interval_s=0.2))
    async with running_gateway(config) as gw, aiohttp.ClientSession(headers=Keys(gw).role(Role.VIEWER)) as http:
        await post(http, gw, enrolled.edge_token, image_batch([old, new], [lesion_event(DEVICE, old_image, old_mask)]))
        deadline = time.monotonic() + 20
        while len((await get_json(http, f"{gw.url}/api/v1/patients/{PATIENT}/images"))["images"]) != 1:
            assert time.monotonic() < deadline, "the old image was not pruned"
            await asyncio.sleep(0.1)
        files = sorted(p.name.split(".", 1)[1] for p in (tmp_path / "images").rglob("*.*") if p.parent.name == DEVICE)
        assert files == ["ground_truth.mask", "image"]  # the old image's file, truth and prediction are gone
