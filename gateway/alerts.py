"""The alert lifecycle: which events open an alert, which actions move it, and the one function that does.

An alert is an alert event as people handle it. Edges raise it (an event of kind ``alert``, state
``raised``; its id is the alert's id) and may resolve it themselves (a second alert event, state
``resolved``, naming the alert in ``detail.alert_id``); people acknowledge and resolve it through the
API. Every change goes through :func:`apply`, and the stores call it inside the transaction that
writes the change, so a batch's resolution is committed together with the batch or not at all.

::

    raised --acknowledge--> acknowledged --resolve--> resolved
       \\----------------------resolve------------------/

A redelivered resolution finds the alert resolved already and changes nothing. An edge may resolve
only the alerts it raised: a resolution from another node is refused (:class:`AlertForbidden`), and
the store counts it in :attr:`~gateway.store.records.WriteResult.refused` instead of applying it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum

from iomt.wire.events import AlertState, Event, EventKind


class AlertAction(StrEnum):
    """What people (or an edge) do to an alert."""

    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"


#: (state, action) -> next state; a pair not listed is refused.
TRANSITIONS: Mapping[tuple[AlertState, AlertAction], AlertState] = {
    (AlertState.RAISED, AlertAction.ACKNOWLEDGE): AlertState.ACKNOWLEDGED,
    (AlertState.RAISED, AlertAction.RESOLVE): AlertState.RESOLVED,
    (AlertState.ACKNOWLEDGED, AlertAction.RESOLVE): AlertState.RESOLVED,
}

#: States an alert can still leave: what ``state=open`` lists and a patient's open-alert count counts.
OPEN_STATES = frozenset(state for state, _action in TRANSITIONS)
#: The query value that stands for :data:`OPEN_STATES`.
OPEN = "open"
#: Who resolved an alert when the resolving event has no node: the gateway itself (its own alarms,
#: :mod:`gateway.vitals.alarms`; the uplink stamps every edge's event with the edge's node).
GATEWAY_ACTOR = "gateway"


class AlertNotFound(LookupError):
    """No alert has this id."""


class AlertTransitionError(ValueError):
    """An alert cannot go from its state to the one asked (e.g. acknowledging a resolved alert)."""


class AlertForbidden(PermissionError):
    """An edge asked to resolve an alert another node raised."""


@dataclass(frozen=True, slots=True)
class Alert:
    """An alert event and what people did about it; ``state`` is the alert's, not the event's."""

    event: Event
    state: AlertState
    acknowledged_by: str | None = None
    acknowledged_us: int | None = None
    resolved_by: str | None = None
    resolved_us: int | None = None


@dataclass(frozen=True, slots=True)
class AlertUpdate:
    """A request to act on the alert ``event_id``: who did it, and when (µs since the epoch).

    ``node`` is the node whose event asks (an edge's resolution; ``""`` for the gateway's own alarms, whose
    events have no node): it may act only on alerts raised by the same node. ``None`` for people.
    """

    event_id: str
    action: AlertAction
    who: str
    t_us: int
    node: str | None = None


def next_state(current: AlertState, action: AlertAction | str) -> AlertState:
    """The state after ``action``; raises :class:`AlertTransitionError` when it makes no sense."""
    try:
        action = AlertAction(action)
    except ValueError:
        raise AlertTransitionError(
            f"unknown action {action!r}; use one of {', '.join(AlertAction)}"
        ) from None
    state = TRANSITIONS.get((current, action))
    if state is not None:
        return state
    if current == AlertState.RESOLVED:
        raise AlertTransitionError(f"the alert is already resolved; cannot {action} it")
    raise AlertTransitionError(f"the alert is already {current}")


def apply(alert: Alert, update: AlertUpdate) -> Alert:
    """``alert`` after ``update``, recording who acted and when; raises :class:`AlertTransitionError`, or
    :class:`AlertForbidden` when an edge acts on an alert another node raised."""
    if update.node is not None and update.node != alert.event.node:
        asking = f"edge {update.node!r}" if update.node else "the gateway"
        raise AlertForbidden(f"{asking} may not {update.action} alert {alert.event.event_id!r}, "
                             f"raised by {alert.event.node or 'the gateway'!r}")
    state = next_state(alert.state, update.action)
    if update.action == AlertAction.ACKNOWLEDGE:
        return replace(alert, state=state, acknowledged_by=update.who, acknowledged_us=update.t_us)
    return replace(alert, state=state, resolved_by=update.who, resolved_us=update.t_us)


def opened_by(event: Event) -> Alert | None:
    """The alert ``event`` raises, in its first state; ``None`` when it is no alert or a resolution."""
    if event.kind != EventKind.ALERT or event.state == AlertState.RESOLVED:
        return None
    return Alert(event, AlertState(event.state) if event.state is not None else AlertState.RAISED)


def edge_resolutions(events: Iterable[Event]) -> list[AlertUpdate]:
    """The alerts that edges resolve in ``events``: each resolution event names its alert in ``detail.alert_id``."""
    updates = []
    for event in events:
        if event.kind != EventKind.ALERT or event.state != AlertState.RESOLVED:
            continue
        alert_id = event.detail.get("alert_id")
        if isinstance(alert_id, str):
            who = f"edge:{event.node}" if event.node else GATEWAY_ACTOR
            updates.append(AlertUpdate(alert_id, AlertAction.RESOLVE, who, event.t_us, node=event.node))
    return updates
