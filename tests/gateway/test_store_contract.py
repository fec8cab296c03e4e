"""One contract, every backend: SQLite (file) and InfluxDB (a real influxd), same assertions."""

from __future__ import annotations

import numpy as np
import pytest

from gateway.store.base import AlertNotFound, AlertTransitionError, EventQuery, WriteBatch
from iomt.wire.deadletter import make_deadletter
from tests.gateway.helpers import ECG_RATE, FRAME_SAMPLES, T0_US, acc_frame, ecg_frame, event, fall_alert, vitals


def test_frames_are_stored_once_and_redeliveries_are_counted(store):
    batch = WriteBatch(frames=[ecg_frame("p1", s) for s in range(5)] + [acc_frame("p1", 0)])
    first = store.write(batch)
    again = store.write(batch)
    assert (first.stored, first.duplicates) == (6, 0)
    assert (again.stored, again.duplicates) == (0, 6)
    assert store.count("frames") == 6
    assert store.stored_sequences("p1", "ecg") == [0, 1, 2, 3, 4]


def test_a_duplicate_inside_one_batch_is_stored_once(store):
    result = store.write(WriteBatch(frames=[ecg_frame("p1", 3), ecg_frame("p1", 3)]))
    assert (result.stored, result.duplicates) == (1, 1)
    assert store.stored_sequences("p1", "ecg") == [3]


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
    assert [e.event_id for e in store.events(EventQuery(kind="quality"))] == [events[4].event_id]
    window = store.events(EventQuery(start_us=T0_US + 1_000_000, end_us=T0_US + 2_000_000))
    assert sorted(e.value for e in window if e.value is not None) == [61.0, 62.0]
    assert len(store.events(EventQuery(limit=2))) == 2
    latest = store.latest_events("heart_rate")
    assert set(latest) == {"p1"}
    assert latest["p1"].value == 63.0


def test_alerts_are_acknowledged_then_resolved_with_who_and_when(store):
    old, new = fall_alert("p1", T0_US), fall_alert("p2", T0_US + 10)
    store.write(WriteBatch(events=[old, new, event("p1")]))
    assert store.count("alerts") == 2
    alerts = store.alerts()
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
    assert [a.event.event_id for a in store.alerts(state="raised")] == [new.event_id]
    assert [a.event.device for a in store.alerts(device="p1")] == ["p1"]
    stored = store.alerts(state="resolved")[0]
    assert (stored.acknowledged_us, stored.resolved_us) == (T0_US + 50, T0_US + 70)


def test_a_redelivered_alert_keeps_its_acknowledgement(store):
    alert = fall_alert("p1", T0_US)
    store.write(WriteBatch(events=[alert]))
    store.update_alert(alert.event_id, "acknowledge", "nurse-ann", T0_US + 5)
    store.write(WriteBatch(events=[alert]))
    assert [a.state for a in store.alerts()] == ["acknowledged"]


def test_edges_keep_their_latest_status(store):
    store.set_edge_status("edge-1", "ward-1", "online", T0_US)
    store.set_edge_status("edge-2", "ward-1", "online", T0_US)
    store.set_edge_status("edge-1", "ward-1", "offline", T0_US + 1)
    assert [(e["node"], e["status"]) for e in store.edges()] == [("edge-1", "offline"), ("edge-2", "online")]


def test_devices_and_models_per_edge(store):
    store.write(WriteBatch(
        frames=[ecg_frame("p1", 0), acc_frame("p1", 0), ecg_frame("p2", 0)],
        events=[event("p1", T0_US, version="1.0.0"), event("p1", T0_US + 9, version="1.1.0"),
                event("p2", T0_US, model="fall", node="edge-2", version="2.0.0")],
    ))
    devices = {d["device"]: d for d in store.devices()}
    assert devices["p1"]["streams"] == ["acc", "ecg"]
    assert devices["p1"]["site"] == "ward-1"
    assert devices["p2"]["streams"] == ["ecg"]
    models = {(m["node"], m["model"]): m["version"] for m in store.edge_models()}
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
    assert second.alerts()[0].acknowledged_by == "nurse-ann"
