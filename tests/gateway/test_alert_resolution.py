"""An edge resolving its own alert closes that alert in the store, once, on either backend."""

from __future__ import annotations

from edge.events import EventFactory
from gateway.app import close_resolved_alerts
from gateway.store.base import Store, WriteBatch
from iomt.wire.events import AlertState, Priority


def run(store: Store) -> None:
    events = EventFactory("ward", "edge-7")
    raised = events.alert("p1", "ecg", "1.0.0", "ventricular_run", Priority.HIGH, AlertState.RAISED, 4.0, (10, 20), 15)
    run_1 = raised.event_id  # the alert's id: the edge derives it from the beat (R-peak at 15) that raised it
    store.write(WriteBatch(events=[raised]))
    [alert] = store.alerts(state="raised")
    assert alert.event.event_id == run_1
    resolved = events.alert("p1", "ecg", "1.0.0", "ventricular_run", Priority.HIGH, AlertState.RESOLVED, 0.0,
                            (30, 40), 15)
    batch = WriteBatch(events=[resolved])
    store.write(batch)
    assert close_resolved_alerts(store, batch) == 1
    assert close_resolved_alerts(store, batch) == 0  # a redelivery changes nothing
    alerts = store.alerts()
    assert [(a.event.event_id, a.state, a.resolved_by, a.resolved_us) for a in alerts] == [
        (run_1, "resolved", "edge:edge-7", 40)
    ]


def test_an_edge_resolution_closes_its_alert(store: Store) -> None:
    run(store)
