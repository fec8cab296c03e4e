"""Alerts in the InfluxDB store: the raising events, replayed through an append-only action log.

InfluxQL cannot update a point in place or join two measurements, so an alert's state is not stored:
it is its raising event (:func:`gateway.alerts.opened_by`) with the actions of ``alert_actions`` applied
in order by :func:`gateway.alerts.apply`, the same function the SQLite store runs in its transaction.
State filters, the priority order and the limit are therefore applied here, after the replay.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from influxdb_client import Point, WritePrecision

from gateway import alerts
from gateway.alerts import Alert, AlertAction, AlertNotFound, AlertUpdate
from gateway.store.influx_lines import ALERT_EVENTS, event_of, quote
from gateway.store.records import AlertQuery
from iomt.wire.events import Event, Priority

Rows = Callable[[str], Iterator[dict[str, Any]]]
Write = Callable[[list[Point]], None]


class AlertLog:
    """Thread-safe: every read-modify-write holds one lock."""

    def __init__(self, rows: Rows, write: Write, events: str, actions: str) -> None:
        """``rows`` runs one query; ``write`` writes points to the retention policy of ``events``/``actions``
        (the measurements' full names)."""
        self._rows = rows
        self._write = write
        self._events = events
        self._actions = actions
        self._lock = threading.Lock()
        self._last_ns = 0

    def query(self, query: AlertQuery) -> list[Alert]:
        where = [ALERT_EVENTS] + [
            f"{name} = {quote(str(value))}"
            for name, value in (("device", query.device), ("priority", query.priority), ("event_id", query.event_id))
            if value is not None
        ]
        found = self._replay(" AND ".join(where))
        if query.states is not None:
            found = [a for a in found if a.state in query.states]
        if query.by_priority:
            found.sort(key=lambda a: (Priority(a.event.priority).rank, -a.event.t_us, a.event.event_id))
        else:
            found.sort(key=lambda a: (-a.event.t_us, a.event.event_id))
        return found[:query.limit]

    def update(self, update: AlertUpdate) -> Alert:
        with self._lock:
            found = self._replay(f"{ALERT_EVENTS} AND event_id = {quote(update.event_id)}")
            if not found:
                raise AlertNotFound(update.event_id)
            updated = alerts.apply(found[0], update)
            self._log([update])
        return updated

    def written(self, new_events: Iterable[Event], batch_events: Iterable[Event],
                refused: list[AlertUpdate] | None = None) -> list[Alert]:
        """After a batch's events are written: the alerts its new events raised, and the ones its edges resolved.

        Every resolution of the batch is applied, new or redelivered: one that was applied already finds
        its alert resolved and changes nothing, one whose log entry a failed write lost is applied now.
        A resolution of an alert another node raised is not applied; it is added to ``refused``.
        """
        opened = [a for e in new_events if (a := alerts.opened_by(e)) is not None]
        updates = alerts.edge_resolutions(batch_events)
        if not updates:
            return opened
        with self._lock:
            ids = " OR ".join(f"event_id = {quote(u.event_id)}" for u in updates)
            current = {a.event.event_id: a for a in self._replay(f"{ALERT_EVENTS} AND ({ids})")}
            applied, changed = [], []
            for update in updates:
                alert = current.get(update.event_id)
                if alert is None:
                    continue
                try:
                    current[update.event_id] = alerts.apply(alert, update)
                except alerts.AlertForbidden:
                    if refused is not None:
                        refused.append(update)
                    continue
                except alerts.AlertTransitionError:
                    continue  # a redelivered resolution, or one a person already made
                applied.append(update)
                changed.append(current[update.event_id])
            self._log(applied)
        return opened + changed

    def _replay(self, where: str) -> list[Alert]:
        """The alerts whose raising events match ``where``, each replayed through its logged actions."""
        opened = [a for r in self._rows(f"SELECT * FROM {self._events} WHERE {where}")
                  if (a := alerts.opened_by(event_of(r))) is not None]
        actions: dict[str, list[dict[str, Any]]] = defaultdict(list)
        if opened:
            for r in self._rows(f"SELECT * FROM {self._actions} GROUP BY event_id"):
                actions[r["event_id"]].append(r)
        out = []
        for alert in opened:
            for row in sorted(actions.get(alert.event.event_id, []), key=lambda r: int(r["time"])):
                update = AlertUpdate(row["event_id"], AlertAction(row["action"]), row["who"], row["t_us"])
                alert = alerts.apply(alert, update)
            out.append(alert)
        return out

    def _log(self, updates: list[AlertUpdate]) -> None:
        """Append to the log (under ``_lock``); each entry gets a later instant than the one before."""
        points = []
        for u in updates:
            self._last_ns = max(time.time_ns(), self._last_ns + 1)
            points.append(Point("alert_actions").tag("event_id", u.event_id).field("action", str(u.action))
                          .field("who", u.who).field("t_us", u.t_us).time(self._last_ns, WritePrecision.NS))
        if points:
            self._write(points)
