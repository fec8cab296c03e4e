"""An edge resolves only the alerts it raised: the lifecycle refuses another node's resolution, and
both stores count it in the write's result instead of applying it (the rest of the batch is stored)."""

from __future__ import annotations

import pytest

from gateway import alerts
from gateway.alerts import AlertAction, AlertForbidden, AlertUpdate
from gateway.store.records import AlertQuery, WriteBatch
from iomt.wire.events import AlertState
from tests.gateway.helpers import T0_US, ecg_frame, edge_alert


def test_the_lifecycle_refuses_a_resolution_from_another_node():
    [alert] = [a for e in [edge_alert("p1", "a-1", AlertState.RAISED, T0_US, node="edge-a")]
               if (a := alerts.opened_by(e)) is not None]
    with pytest.raises(AlertForbidden, match="'edge-b' may not resolve alert 'a-1', raised by 'edge-a'"):
        alerts.apply(alert, AlertUpdate("a-1", AlertAction.RESOLVE, "edge:edge-b", T0_US + 1, node="edge-b"))
    with pytest.raises(AlertForbidden):
        alerts.apply(alert, AlertUpdate("a-1", AlertAction.RESOLVE, "edge:", T0_US + 1, node=""))
    resolved = alerts.apply(alert, AlertUpdate("a-1", AlertAction.RESOLVE, "edge:edge-a", T0_US + 1, node="edge-a"))
    assert resolved.state == AlertState.RESOLVED
    by_person = alerts.apply(alert, AlertUpdate("a-1", AlertAction.RESOLVE, "dr-cho", T0_US + 1))
    assert by_person.resolved_by == "dr-cho"  # people are checked by their role at the API, not here
    [update] = alerts.edge_resolutions([edge_alert("p1", "a-1", AlertState.RESOLVED, T0_US + 2, node="edge-b")])
    assert (update.node, update.who) == ("edge-b", "edge:edge-b")


def test_both_stores_refuse_count_and_keep_the_rest_of_the_batch(store):
    store.write(WriteBatch(events=[edge_alert("p1", "a-1", AlertState.RAISED, T0_US, node="edge-a")]))
    forged = edge_alert("p1", "a-1", AlertState.RESOLVED, T0_US + 5, node="edge-b")
    result = store.write(WriteBatch(frames=[ecg_frame("p1", 0)], events=[forged]))
    assert result.stored == 2 and result.alerts == ()
    assert [(u.event_id, u.node) for u in result.refused] == [("a-1", "edge-b")]
    [alert] = store.alerts(AlertQuery())
    assert alert.state == AlertState.RAISED and alert.resolved_by is None
    assert store.stored_sequences("p1", "ecg") == [0]
    own = edge_alert("p1", "a-1", AlertState.RESOLVED, T0_US + 9, node="edge-a")
    result = store.write(WriteBatch(events=[own]))
    assert result.refused == () and [a.state for a in result.alerts] == [AlertState.RESOLVED]
    [alert] = store.alerts(AlertQuery())
    assert alert.resolved_by == "edge:edge-a"
