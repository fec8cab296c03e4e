"""An edge resolving its own alert closes that alert in the store, once, on either backend."""

from __future__ import annotations

from edge.alerts import AlertContext, alert_event
from gateway.app import close_resolved_alerts
from gateway.store.base import Store, WriteBatch


def run(store: Store) -> None:
    ctx = AlertContext("ward", "edge-7")
    raised = alert_event(ctx, "p1", "ecg", "1.0.0", "ventricular_run", "high", "raised", 4.0, (10, 20), "run-1")
    store.write(WriteBatch(events=[raised]))
    [alert] = store.alerts(state="raised")
    assert alert.event.event_id == "run-1"
    resolved = alert_event(ctx, "p1", "ecg", "1.0.0", "ventricular_run", "high", "resolved", 0.0, (30, 40), "run-1")
    batch = WriteBatch(events=[resolved])
    store.write(batch)
    assert close_resolved_alerts(store, batch) == 1
    assert close_resolved_alerts(store, batch) == 0  # a redelivery changes nothing
    alerts = store.alerts()
    assert [(a.event.event_id, a.state, a.resolved_by, a.resolved_us) for a in alerts] == [
        ("run-1", "resolved", "edge:edge-7", 40)
    ]


def test_an_edge_resolution_closes_its_alert(store: Store) -> None:
    run(store)
