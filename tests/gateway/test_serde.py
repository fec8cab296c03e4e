"""One serialisation module: every record to JSON with every field, and schemas derived from the same records."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from gateway import serde
from gateway.alerts import Alert
from gateway.live import WaveFrame
from gateway.store.records import EdgeModel, Series
from gateway.views import EdgeView, ModelInUse, NodeModels, PatientView, StreamLoss, Summary, Totals
from iomt.wire.events import AlertState, Event, encode_event
from tests.gateway.helpers import T0_US, fall_alert

LOSS = StreamLoss(frames=10, missing=1, duplicates=2, last_seq=10)
PATIENT = PatientView("p1", "ward-1", ("acc", "ecg"), T0_US, 71.5, T0_US, "ok", {"ecg": LOSS}, 1)
EDGE = EdgeView("edge-1", "ward-1", "online", T0_US, (ModelInUse("fall", "2.0.0", T0_US),))
RECORDS = [
    PATIENT, EDGE, NodeModels("edge-1", EDGE.models), EdgeModel("edge-1", "fall", "2.0.0", T0_US),
    Summary((PATIENT,), Totals(1, 2, 3, 4, 5, 6), (EDGE,)), WaveFrame("p1", "ecg", 3, T0_US, 8000, [0.5, 1.0]),
]


def fields(record: object) -> list[str]:
    return [f.name for f in dataclasses.fields(record)]  # type: ignore[arg-type]


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: type(r).__name__)
def test_records_keep_every_field_and_are_plain_json(record):
    body = serde.to_json(record)
    assert list(body) == fields(record)
    assert json.loads(json.dumps(body)) == body


def test_an_event_is_what_the_wire_sends_and_an_alert_is_its_event_with_the_alerts_state():
    event = dataclasses.replace(fall_alert("p1", T0_US), value=1.5, detail={"alert_id": "x", "n": [1]})
    assert serde.to_json(event) == serde.event_json(event) == json.loads(encode_event(event))
    alert = Alert(event, AlertState.ACKNOWLEDGED, "nurse-ann", T0_US + 1)
    body = serde.to_json(alert)
    assert list(body) == fields(event) + [f for f in fields(alert) if f not in ("event", "state")]
    assert body["state"] == "acknowledged" and body["detail"] == {"alert_id": "x", "n": [1]}


def test_a_series_sends_channel_major_lists():
    s = Series("p1", "acc", T0_US, T0_US + 9, np.array([T0_US, T0_US + 5]), np.array([[1, 2, 3], [4, 5, 6.123456]]), 7)
    assert serde.to_json(s) == {"device": "p1", "stream": "acc", "start_us": T0_US, "end_us": T0_US + 9,
                                "samples": 7, "points": 2, "t_us": [T0_US, T0_US + 5],
                                "values": [[1.0, 4.0], [2.0, 5.0], [3.0, 6.12346]]}
    with pytest.raises(TypeError, match="not a record"):
        serde.to_json({"a": 1})


def test_the_schemas_are_the_records_fields():
    schemas = serde.schemas()
    for record in (Event, PatientView, EdgeView, NodeModels, EdgeModel, Summary, Totals, StreamLoss, ModelInUse):
        schema = schemas[record.__name__]
        assert list(schema["properties"]) == [f.name for f in dataclasses.fields(record)]
        assert schema["required"] == list(schema["properties"])
    alert = schemas["Alert"]["properties"]
    assert list(alert) == [f.name for f in dataclasses.fields(Event)] + [
        f.name for f in dataclasses.fields(Alert) if f.name not in ("event", "state")]
    assert alert["state"]["$ref"].endswith("/AlertState")
    assert set(schemas["Series"]["properties"]) == set(serde.to_json(Series(
        "p", "ecg", 0, 1, np.zeros(0, np.int64), np.zeros((0, 1), np.float32), 0)))
