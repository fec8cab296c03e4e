"""The alert lifecycle (pure): the transition table, who and when, and what edges' events ask for."""

from __future__ import annotations

import dataclasses
import itertools

import pytest

from gateway import alerts
from gateway.alerts import OPEN_STATES, TRANSITIONS, Alert, AlertAction, AlertTransitionError, AlertUpdate
from iomt.wire.events import AlertState, EventKind
from tests.gateway.helpers import T0_US, edge_alert, event, fall_alert


def test_every_state_and_action_is_decided_by_the_table():
    for state, action in itertools.product(AlertState, AlertAction):
        expected = TRANSITIONS.get((state, action))
        if expected is None:
            with pytest.raises(AlertTransitionError, match=f"already {state}"):
                alerts.next_state(state, action)
        else:
            assert alerts.next_state(state, action) is expected
    assert {AlertState.RAISED, AlertState.ACKNOWLEDGED} == OPEN_STATES
    with pytest.raises(AlertTransitionError, match="unknown action 'snooze'; use one of acknowledge, resolve"):
        alerts.next_state(AlertState.RAISED, "snooze")


def test_apply_records_who_and_when_and_keeps_what_came_before():
    raised = Alert(fall_alert("p1", T0_US), AlertState.RAISED)
    acked = alerts.apply(raised, AlertUpdate("x", AlertAction.ACKNOWLEDGE, "nurse-ann", T0_US + 1))
    assert (acked.state, acked.acknowledged_by, acked.acknowledged_us, acked.resolved_by) == (
        "acknowledged", "nurse-ann", T0_US + 1, None)
    done = alerts.apply(acked, AlertUpdate("x", AlertAction.RESOLVE, "dr-cho", T0_US + 2))
    assert (done.state, done.acknowledged_by, done.resolved_by, done.resolved_us) == (
        "resolved", "nurse-ann", "dr-cho", T0_US + 2)
    assert done.event is raised.event
    with pytest.raises(AlertTransitionError, match="already resolved; cannot resolve"):
        alerts.apply(done, AlertUpdate("x", AlertAction.RESOLVE, "edge:e1", T0_US + 3))


def test_which_events_open_an_alert_and_which_resolve_one():
    raised = edge_alert("p1", "a1", AlertState.RAISED, T0_US)
    resolution = edge_alert("p1", "a1", AlertState.RESOLVED, T0_US + 5, node="edge-9")
    stateless = dataclasses.replace(fall_alert("p2", T0_US), state=None)
    opened = alerts.opened_by(raised)
    assert opened is not None and (opened.event, opened.state) == (raised, AlertState.RAISED)
    assert alerts.opened_by(stateless) == Alert(stateless, AlertState.RAISED)
    assert alerts.opened_by(resolution) is None and alerts.opened_by(event("p1")) is None
    no_id = dataclasses.replace(resolution, detail={"alert_id": 7})
    anonymous = dataclasses.replace(resolution, node="")
    inference = dataclasses.replace(resolution, kind=EventKind.INFERENCE)
    assert alerts.edge_resolutions([raised, resolution, no_id, anonymous, inference]) == [
        AlertUpdate("a1", AlertAction.RESOLVE, "edge:edge-9", T0_US + 5, node="edge-9"),
        AlertUpdate("a1", AlertAction.RESOLVE, "gateway", T0_US + 5, node=""),  # the gateway's own alarms only
    ]
