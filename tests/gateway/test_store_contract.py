"""One contract, every backend: SQLite (file) and InfluxDB (a real influxd), same assertions."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from edge.alerts import AlertLabel
from edge.events import EventFactory, alert_id
from gateway.alerts import OPEN_STATES, AlertAction, AlertNotFound, AlertTransitionError
from gateway.store.records import AlertQuery, EventQuery, Table, WriteBatch
from iomt.wire.deadletter import make_deadletter
from iomt.wire.events import AlertState, Event, EventKind, Priority
from iomt.wire.frames import Reading
from tests.gateway.helpers import (
    ECG_RATE,
    FRAME_SAMPLES,
    T0_US,
    acc_frame,
    ecg_frame,
    edge_alert,
    event,
    fall_alert,
    vitals,
)
from tests.gateway.stored import stored_twice

ALL = AlertQuery()


def test_frames_are_stored_once_and_redeliveries_are_counted(store):
    batch = WriteBatch(frames=[ecg_frame("p1", s) for s in range(5)] + [acc_frame("p1", 0)])
    first = store.write(batch)
    again = store.write(batch)
    assert (first.stored, first.duplicates) == (6, 0)
    assert (again.stored, again.duplicates) == (0, 6)
    assert store.count("frames") == 6
    assert store.stored_sequences("p1", "ecg") == [0, 1, 2, 3, 4]
    stats = {(s.device, s.stream): s for s in store.stream_stats()}
    assert (stats[("p1", "ecg")].duplicates, stats[("p1", "acc")].duplicates) == (5, 1)
    assert stats[("p1", "ecg")].missing == 0
    assert stored_twice(store) == []


def test_a_duplicate_inside_one_batch_is_stored_once(store):
    result = store.write(WriteBatch(frames=[ecg_frame("p1", 3), ecg_frame("p1", 3)]))
    assert (result.stored, result.duplicates) == (1, 1)
    assert store.stored_sequences("p1", "ecg") == [3]
    [stats] = store.stream_stats()
    assert (stats.frames, stats.duplicates, stats.missing) == (1, 1, 0)
    assert stored_twice(store) == []


def test_refused_redeliveries_are_counted_per_stream_and_keep_missing_right(store):
    store.write(WriteBatch(frames=[ecg_frame("p1", s) for s in (0, 1, 2, 5, 6)], readings=[vitals("p1", 0)]))
    store.write(WriteBatch(frames=[ecg_frame("p2", 0)]))
    # an edge that lost the gateway's acknowledgement sends its batch again, and then once more in part
    again = store.write(WriteBatch(frames=[ecg_frame("p1", s) for s in (0, 1, 2)] + [ecg_frame("p1", 7)],
                                   readings=[vitals("p1", 0), vitals("p1", 1)]))
    assert (again.stored, again.duplicates) == (2, 4)
    assert store.write(WriteBatch(frames=[ecg_frame("p1", 2)])).duplicates == 1
    stats = {(s.device, s.stream): s for s in store.stream_stats()}
    ecg = stats[("p1", "ecg")]
    assert (ecg.frames, ecg.first_seq, ecg.last_seq, ecg.duplicates, ecg.missing) == (6, 0, 7, 4, 2)
    vit = stats[("p1", "vitals")]
    assert (vit.frames, vit.duplicates, vit.missing) == (2, 1, 0)
    assert stats[("p2", "ecg")].duplicates == 0
    assert store.stored_sequences("p1", "ecg") == [0, 1, 2, 5, 6, 7]
    assert stored_twice(store) == []  # refused means not stored: no (device, stream, seq) is held twice


def test_stream_stats_count_gaps(store):
    store.write(WriteBatch(frames=[ecg_frame("p1", s) for s in (0, 1, 2, 5, 6)]))
    store.write(WriteBatch(readings=[vitals("p1", s) for s in range(3)]))
    stats = {(s.device, s.stream): s for s in store.stream_stats()}
    ecg = stats[("p1", "ecg")]
    assert (ecg.frames, ecg.first_seq, ecg.last_seq, ecg.missing) == (5, 0, 6, 2)
    assert stats[("p1", "vitals")].missing == 0
    assert store.stored_sequences("p1", "vitals") == [0, 1, 2]


def test_stream_stats_stay_right_as_data_arrives(store):
    assert store.stream_stats() == []
    store.write(WriteBatch(frames=[ecg_frame("p1", s) for s in range(3)]))
    store.write(WriteBatch(frames=[ecg_frame("p1", s) for s in range(2, 5)], readings=[vitals("p1", 4)]))
    stats = {(s.device, s.stream): s for s in store.stream_stats()}
    assert (stats[("p1", "ecg")].frames, stats[("p1", "ecg")].last_seq, stats[("p1", "ecg")].missing) == (5, 4, 0)
    store.write(WriteBatch(frames=[ecg_frame("p1", 7)]))
    stats = {(s.device, s.stream): s for s in store.stream_stats()}
    assert (stats[("p1", "ecg")].frames, stats[("p1", "ecg")].missing) == (6, 2)
    assert (stats[("p1", "vitals")].first_seq, stats[("p1", "vitals")].frames) == (4, 1)


def test_readings_deduplicate_on_sequence(store):
    store.write(WriteBatch(readings=[vitals("p2", 0), vitals("p2", 1)]))
    result = store.write(WriteBatch(readings=[vitals("p2", 1), vitals("p2", 2)]))
    assert (result.stored, result.duplicates) == (1, 1)
    assert store.count("readings") == 3


def test_events_deduplicate_on_id_and_filter_newest_first(store):
    events = [event("p1", T0_US + i * 1_000_000, value=60.0 + i) for i in range(4)]
    events.append(event("p2", T0_US + 500_000, kind="quality", model="sqi", label="noisy", value=None))
    store.write(WriteBatch(events=events))
    assert store.write(WriteBatch(events=events[:2])).duplicates == 2
    assert store.count("events") == 5
    got = store.events(EventQuery(device="p1"))
    assert [e.value for e in got] == [63.0, 62.0, 61.0, 60.0]
    assert got[0] == events[3]
    assert [e.event_id for e in store.events(EventQuery(kind=EventKind.QUALITY))] == [events[4].event_id]
    window = store.events(EventQuery(start_us=T0_US + 1_000_000, end_us=T0_US + 2_000_000))
    assert sorted(e.value for e in window if e.value is not None) == [61.0, 62.0]
    assert len(store.events(EventQuery(limit=2))) == 2
    latest = store.latest_events("heart_rate")
    assert set(latest) == {"p1"}
    assert latest["p1"].value == 63.0


def test_an_event_comes_back_with_every_field_and_its_enums(store):
    """Every field of the record round-trips (a field added to Event that a backend drops fails here)."""
    full = Event(
        device="p1", model="ecg", model_version="2.0.1", kind=EventKind.ALERT, label="ventricular_run", score=0.75,
        window_start_us=T0_US - 4_000_000, window_end_us=T0_US, t_us=T0_US, site="ward-7", node="edge-3",
        priority=Priority.MEDIUM, state=AlertState.RAISED, value=3.5,
        detail={"alert_id": "a1", "beats": [1, 2, 3], "nested": {"x": 0.5}}, event_id="a1",
    )
    bare = Event(device="p2", model="sqi", model_version="1", kind=EventKind.QUALITY, label="noisy", score=1.0,
                 window_start_us=T0_US, window_end_us=T0_US, t_us=T0_US, node="")
    store.write(WriteBatch(events=[full, bare]))
    for sent in (full, bare):
        [got] = store.events(EventQuery(device=sent.device))
        assert {f.name: getattr(got, f.name) for f in dataclasses.fields(Event)} == dataclasses.asdict(sent)
        assert type(got.kind) is EventKind and type(got.priority) is Priority
    [alert] = store.alerts(ALL)
    assert alert.event == full and type(alert.event.state) is AlertState and type(alert.state) is AlertState


def test_alerts_are_acknowledged_then_resolved_with_who_and_when(store):
    old, new = fall_alert("p1", T0_US), fall_alert("p2", T0_US + 10)
    store.write(WriteBatch(events=[old, new, event("p1")]))
    assert store.count("alerts") == 2
    alerts = store.alerts(ALL)
    assert [a.event.event_id for a in alerts] == [new.event_id, old.event_id]
    assert {a.state for a in alerts} == {"raised"}
    acked = store.update_alert(old.event_id, "acknowledge", "nurse-ann", T0_US + 50)
    assert (acked.state, acked.acknowledged_by, acked.acknowledged_us) == ("acknowledged", "nurse-ann", T0_US + 50)
    with pytest.raises(AlertTransitionError):
        store.update_alert(old.event_id, "acknowledge", "nurse-bob", T0_US + 60)
    resolved = store.update_alert(old.event_id, "resolve", "dr-cho", T0_US + 70)
    assert (resolved.state, resolved.resolved_by, resolved.acknowledged_by) == ("resolved", "dr-cho", "nurse-ann")
    with pytest.raises(AlertTransitionError):
        store.update_alert(old.event_id, "resolve", "dr-cho", T0_US + 80)
    with pytest.raises(AlertNotFound):
        store.update_alert("0" * 32, "acknowledge", "x", T0_US)
    assert [a.event.event_id for a in store.alerts(AlertQuery(states={AlertState.RAISED}))] == [new.event_id]
    assert [a.event.device for a in store.alerts(AlertQuery(device="p1"))] == ["p1"]
    stored = store.alerts(AlertQuery(states={AlertState.RESOLVED}))[0]
    assert (stored.acknowledged_us, stored.resolved_us) == (T0_US + 50, T0_US + 70)
    with pytest.raises(AlertTransitionError, match="unknown action"):
        store.update_alert(new.event_id, "delete", "x", T0_US)
    assert store.alerts(AlertQuery(event_id=new.event_id))[0].state == AlertState.RAISED


def test_the_store_filters_open_alerts_and_orders_them_by_priority(store):
    low_new = event("p1", T0_US + 30, kind="alert", model="sqi", label="lead_off", priority="low")
    high_old = fall_alert("p2", T0_US)
    medium = event("p3", T0_US + 20, kind="alert", model="ecg", label="af", priority="medium")
    high_new = fall_alert("p4", T0_US + 10)
    store.write(WriteBatch(events=[low_new, high_old, medium, high_new]))
    store.update_alert(high_new.event_id, AlertAction.RESOLVE, "dr-cho", T0_US + 40)
    store.update_alert(medium.event_id, AlertAction.ACKNOWLEDGE, "nurse-ann", T0_US + 41)
    ids = {e.event_id: name for name, e in
           (("low_new", low_new), ("high_old", high_old), ("medium", medium), ("high_new", high_new))}

    def names(query: AlertQuery) -> list[str]:
        return [ids[a.event.event_id] for a in store.alerts(query)]

    assert names(ALL) == ["low_new", "medium", "high_new", "high_old"]
    assert names(AlertQuery(by_priority=True)) == ["high_new", "high_old", "medium", "low_new"]
    assert names(AlertQuery(states=OPEN_STATES, by_priority=True)) == ["high_old", "medium", "low_new"]
    assert names(AlertQuery(states=OPEN_STATES, by_priority=True, limit=2)) == ["high_old", "medium"]
    assert names(AlertQuery(priority=Priority.HIGH)) == ["high_new", "high_old"]
    assert names(AlertQuery(states={AlertState.ACKNOWLEDGED})) == ["medium"]
    assert names(AlertQuery(states=frozenset())) == []


def test_an_edge_resolution_closes_its_alert_in_the_same_write_once(store):
    factory = EventFactory("ward", "edge-7")
    run = alert_id("ward", "p1", "ecg", AlertLabel.VENTRICULAR_RUN, 15)
    raised = factory.alert("p1", "ecg", "1.0.0", AlertLabel.VENTRICULAR_RUN, Priority.HIGH, AlertState.RAISED, 4.0,
                           (10, 20), 15)
    opened = store.write(WriteBatch(events=[raised]))
    assert [(a.event.event_id, a.state) for a in opened.alerts] == [(run, "raised")]
    [alert] = store.alerts(AlertQuery(states={AlertState.RAISED}))
    assert alert.event.event_id == run
    resolved = factory.alert("p1", "ecg", "1.0.0", AlertLabel.VENTRICULAR_RUN, Priority.HIGH, AlertState.RESOLVED,
                             0.0, (30, 40), 15)
    batch = WriteBatch(events=[resolved])
    closed = store.write(batch)
    assert [(a.event.event_id, a.state, a.resolved_by, a.resolved_us) for a in closed.alerts] == [
        (run, "resolved", "edge:edge-7", 40)
    ]
    again = store.write(batch)  # a redelivery changes nothing
    assert (again.stored, again.duplicates, again.alerts) == (0, 1, ())
    alerts = store.alerts(ALL)
    assert [(a.event.event_id, a.state, a.resolved_by, a.resolved_us) for a in alerts] == [
        (run, "resolved", "edge:edge-7", 40)
    ]
    assert store.count(Table.ALERTS) == 1  # the resolution event closes an alert; it is none itself
    assert store.count(Table.EVENTS) == 2


def test_a_raise_and_its_resolution_in_one_batch_and_a_resolution_after_a_person(store):
    raised = edge_alert("p1", "af-1", AlertState.RAISED, 2, node="edge-2")
    closing = edge_alert("p1", "af-1", AlertState.RESOLVED, 4, node="edge-2")
    result = store.write(WriteBatch(events=[raised, closing]))
    assert [(a.event.event_id, a.state) for a in result.alerts] == [("af-1", "resolved")]
    assert store.alerts(ALL)[0].resolved_by == "edge:edge-2"
    store.write(WriteBatch(events=[edge_alert("p2", "af-2", AlertState.RAISED, 2)]))
    store.update_alert("af-2", AlertAction.RESOLVE, "dr-cho", 5)
    late = edge_alert("p2", "af-2", AlertState.RESOLVED, 7)
    unknown = edge_alert("p3", "nope", AlertState.RESOLVED, 7)
    assert store.write(WriteBatch(events=[late, unknown])).alerts == ()
    [mine] = store.alerts(AlertQuery(device="p2"))
    assert (mine.state, mine.resolved_by, mine.resolved_us) == ("resolved", "dr-cho", 5)


def test_a_redelivered_alert_keeps_its_acknowledgement(store):
    alert = fall_alert("p1", T0_US)
    store.write(WriteBatch(events=[alert]))
    store.update_alert(alert.event_id, "acknowledge", "nurse-ann", T0_US + 5)
    assert store.write(WriteBatch(events=[alert])).alerts == ()
    assert [a.state for a in store.alerts(ALL)] == ["acknowledged"]


def test_edges_keep_their_latest_status(store):
    store.set_edge_status("edge-1", "ward-1", "online", T0_US)
    store.set_edge_status("edge-2", "ward-1", "online", T0_US)
    store.set_edge_status("edge-1", "ward-1", "offline", T0_US + 1)
    assert [(e.node, e.status) for e in store.edges()] == [("edge-1", "offline"), ("edge-2", "online")]


def test_devices_and_models_per_edge(store):
    store.write(WriteBatch(
        frames=[ecg_frame("p1", 0), acc_frame("p1", 0), ecg_frame("p2", 0)],
        events=[event("p1", T0_US, version="1.0.0"), event("p1", T0_US + 9, version="1.1.0"),
                event("p2", T0_US, model="fall", node="edge-2", version="2.0.0")],
    ))
    devices = {d.device: d for d in store.devices()}
    assert devices["p1"].streams == ("acc", "ecg")
    assert devices["p1"].site == "ward-1"
    assert devices["p2"].streams == ("ecg",)
    assert [d.device for d in store.devices()] == ["p1", "p2"]
    models = {(m.node, m.model): m.version for m in store.edge_models()}
    assert models == {("edge-1", "heart_rate"): "1.1.0", ("edge-2", "fall"): "2.0.0"}


def test_query_stream_downsamples_server_side(store):
    store.write(WriteBatch(frames=[ecg_frame("p1", s) for s in range(8)]))  # 8 s, 2,000 samples
    start, end = T0_US, T0_US + 8_000_000 - 1
    full = store.query_stream("p1", "ecg", start, end, 10_000)
    assert full.samples == 8 * FRAME_SAMPLES and full.t_us.size == 8 * FRAME_SAMPLES
    expected = ((np.arange(8 * FRAME_SAMPLES) % 1000) * 0.001).astype(np.float32)
    np.testing.assert_allclose(full.values[:, 0], expected, atol=1e-6)
    assert full.t_us[1] - full.t_us[0] == round(1e6 / ECG_RATE)
    small = store.query_stream("p1", "ecg", start, end, 8)
    assert small.t_us.size == 8 and small.samples == 2000
    np.testing.assert_allclose(small.values[:, 0], [expected[i * 250:(i + 1) * 250].mean() for i in range(8)],
                               rtol=1e-4)
    middle = store.query_stream("p1", "ecg", T0_US + 2_500_000, T0_US + 3_499_999, 5000)
    assert middle.samples == 250 and middle.t_us[0] == T0_US + 2_500_000
    assert (middle.start_us, middle.end_us) == (T0_US + 2_500_000, T0_US + 3_499_999)
    assert store.query_stream("p1", "ecg", T0_US + 10**9, T0_US + 2 * 10**9, 100).samples == 0
    acc = store.write(WriteBatch(frames=[acc_frame("p1", 0)]))
    assert acc.stored == 1
    assert store.query_stream("p1", "acc", T0_US, T0_US + 999_999, 100).values.shape[1] == 3


def test_deadletters_are_counted(store):
    letter = make_deadletter("uplink", "seq", "bad", "edge-1", T0_US, b"\x00" * 10)
    assert store.write(WriteBatch(deadletters=[letter, letter])).stored == 2
    assert store.count("deadletters") == 2
    with pytest.raises(ValueError):
        store.count("nope; DROP TABLE frames")


def test_frame_latency_is_measured_from_device_time_to_commit(store):
    store.write(WriteBatch(frames=[ecg_frame("p1", 0)]))
    latency = store.frame_latency()
    assert latency.count == 1
    assert latency.p50_ms is not None and latency.p50_ms > 0  # T0_US lies in the past


def test_data_survives_reopening(store_factory):
    first = store_factory()
    alert = fall_alert("p1", T0_US)
    first.write(WriteBatch(frames=[ecg_frame("p1", 0)], events=[alert]))
    first.update_alert(alert.event_id, "acknowledge", "nurse-ann", T0_US + 1)
    first.close()
    second = store_factory()
    assert second.stored_sequences("p1", "ecg") == [0]
    assert second.write(WriteBatch(frames=[ecg_frame("p1", 0)])).duplicates == 1
    assert second.alerts(ALL)[0].acknowledged_by == "nurse-ann"
    second.close()
    third = store_factory()  # the refused redelivery was counted where the next process finds it
    assert [(s.stream, s.frames, s.duplicates) for s in third.stream_stats()] == [("ecg", 1, 1)]
    assert stored_twice(third) == []


def _reading(device: str, stream: str, seq: int, t_us: int, **values: float) -> Reading:
    return Reading(device, stream, seq, t_us, values)


def test_readings_come_back_over_a_range_with_every_value_and_bucketed_beyond_the_points_asked(store):
    rows = [_reading("p1", "vitals", s, T0_US + s * 1_000_000, spo2=90.0 + s, hr=60.0 + 2 * s) for s in range(10)]
    rows.append(_reading("p1", "vitals", 10, T0_US + 10_000_000, temp_c=37.5))  # a monitor sends what it measured
    rows.append(_reading("p2", "vitals", 0, T0_US + 1_000_000, spo2=50.0))
    rows.append(_reading("p1", "news2", 0, T0_US + 1_000_000, total=7.0))
    store.write(WriteBatch(readings=rows))
    every = store.query_readings("p1", "vitals", T0_US, T0_US + 10_000_000, 100)
    assert every.names == ("hr", "spo2", "temp_c") and every.readings == 11
    assert every.t_us.tolist() == [T0_US + s * 1_000_000 for s in range(11)]
    np.testing.assert_allclose(every.mean[:10, 1], [90.0 + s for s in range(10)])
    np.testing.assert_array_equal(every.low, every.mean)
    assert np.isnan(every.mean[10, 0]) and every.mean[10, 2] == 37.5 and np.isnan(every.mean[0, 2])
    # both ends inclusive, other devices and streams left out
    inner = store.query_readings("p1", "vitals", T0_US + 2_000_000, T0_US + 4_000_000, 100)
    assert inner.t_us.tolist() == [T0_US + 2_000_000, T0_US + 3_000_000, T0_US + 4_000_000]
    assert inner.names == ("hr", "spo2")
    # 10 readings into 2 buckets of 5 s: mean, min and max per bucket
    two = store.query_readings("p1", "vitals", T0_US, T0_US + 9_999_999, 2)
    assert two.readings == 10 and two.t_us.tolist() == [T0_US, T0_US + 5_000_000]
    np.testing.assert_allclose(two.mean[:, 1], [92.0, 97.0])
    np.testing.assert_allclose(two.low[:, 0], [60.0, 70.0])
    np.testing.assert_allclose(two.high[:, 0], [68.0, 78.0])
    empty = store.query_readings("p1", "vitals", T0_US + 10**9, T0_US + 2 * 10**9, 10)
    assert (empty.readings, empty.t_us.size, empty.names) == (0, 0, ())


def test_the_latest_reading_of_a_stream_per_device(store):
    assert store.latest_readings("vitals") == {}
    store.write(WriteBatch(readings=[
        _reading("p1", "vitals", 1, T0_US + 2_000_000, spo2=93.0),
        _reading("p1", "vitals", 0, T0_US + 1_000_000, spo2=99.0),
        _reading("p2", "vitals", 4, T0_US, hr=51.0, spo2=97.5),
        _reading("p3", "status", 0, T0_US, battery_pct=40.0),
    ]))
    store.write(WriteBatch(frames=[ecg_frame("p4", 0)]))
    latest = store.latest_readings("vitals")
    assert set(latest) == {"p1", "p2"}
    assert latest["p1"] == Reading("p1", "vitals", 1, T0_US + 2_000_000, {"spo2": 93.0})
    assert latest["p2"].values == {"hr": 51.0, "spo2": 97.5} and latest["p2"].seq == 4
    assert store.latest_readings("status")["p3"].values == {"battery_pct": 40.0}
