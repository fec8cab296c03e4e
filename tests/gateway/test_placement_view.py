"""The gateway shows the placement a device declared (forwarded by its edge as a ``descriptor`` event) in
the patient list and on the station tile, schema-valid against the derived OpenAPI document; a withdrawn
descriptor shows none. No new route: both views already declare their access (viewer)."""

from __future__ import annotations

import jsonschema

from iomt.wire.descriptor import EVENT_MODEL
from iomt.wire.events import Event, EventKind
from tests.gateway.helpers import T0_US, uplink_body
from tests.gateway.test_station_api import NORMAL, call, gw, http, post, readings  # noqa: F401 - fixtures


def described(device: str, placement: str, t_us: int, declared: bool = True) -> Event:
    detail = {"declared": declared, "placement": placement}
    if declared:
        detail |= {"acc_unit": "g", "gyro_unit": "deg/s", "axes": "sensor"}
    return Event(device=device, model=EVENT_MODEL, model_version="1", kind=EventKind.INFERENCE, label=placement,
                 score=1.0, window_start_us=t_us, window_end_us=t_us, t_us=t_us, site="s", node="edge-9",
                 detail=detail)


async def test_the_declared_placement_is_shown_newest_first_and_a_withdrawn_one_is_not(http, gw):  # noqa: F811
    await post(http, gw, uplink_body(readings=readings("bed-1", NORMAL, 0, 2) + readings("bed-2", NORMAL, 0, 2),
                                     events=[described("bed-1", "ankle", T0_US), described("bed-1", "wrist", T0_US + 5),
                                             described("bed-2", "waist", T0_US),
                                             described("bed-2", "unknown", T0_US + 5, declared=False)]))
    status, doc = await call(http, gw, "GET", "/api/v1/openapi.json")
    status, patients = await call(http, gw, "GET", "/api/v1/patients")
    assert status == 200 and {p["device"]: p["placement"] for p in patients["patients"]} == {
        "bed-1": "wrist", "bed-2": None}
    schema = doc["paths"]["/api/v1/patients"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    jsonschema.validate(patients, {**schema, "components": doc["components"]})
    status, station = await call(http, gw, "GET", "/api/v1/station")
    assert status == 200 and {t["device"]: t["placement"] for t in station["tiles"]} == {
        "bed-1": "wrist", "bed-2": None}
    schema = doc["paths"]["/api/v1/station"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    jsonschema.validate(station, {**schema, "components": doc["components"]})
