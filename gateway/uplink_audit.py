"""What an uplink batch changed that the audit log keeps: alerts edges resolved, resolutions refused
(an edge acting on another node's alert), and edges switching model versions."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from gateway.audit import AuditLog
from gateway.store.base import FleetRegistry
from gateway.store.records import WriteResult
from iomt.wire.events import AlertState, Event


@dataclass(frozen=True, slots=True)
class ModelChange:
    node: str
    model: str
    previous: str | None
    version: str


class ModelVersions:
    """The model version each edge last reported per model, to notice a change (used on the event loop)."""

    def __init__(self) -> None:
        self._known: dict[tuple[str, str], tuple[int, str]] = {}

    def prime(self, fleet: FleetRegistry) -> None:
        """Start from what the store holds (blocking: call it off the event loop, before serving)."""
        for m in fleet.edge_models():
            key = (m.node, m.model)
            if key not in self._known or m.last_seen_us > self._known[key][0]:
                self._known[key] = (m.last_seen_us, m.version)

    def observe(self, events: Iterable[Event]) -> list[ModelChange]:
        """The changes a committed batch's events show (its newest event per node and model counts)."""
        newest: dict[tuple[str, str], tuple[int, str]] = {}
        for e in events:
            key = (e.node, e.model)
            if e.node and e.model_version and (key not in newest or e.t_us >= newest[key][0]):
                newest[key] = (e.t_us, e.model_version)
        changes = []
        for key, (t_us, version) in newest.items():
            known = self._known.get(key)
            if known is not None and t_us < known[0]:
                continue  # an older event arriving late says nothing about the version in use now
            if known is None or known[1] != version:
                changes.append(ModelChange(key[0], key[1], None if known is None else known[1], version))
            self._known[key] = (t_us, version)
        return changes


def record(log: AuditLog, node: str, result: WriteResult, changes: list[ModelChange]) -> None:
    """Append the batch's audited changes (blocking: call it off the event loop)."""
    actor = f"edge:{node}"
    for alert in result.alerts:
        if alert.state == AlertState.RESOLVED and alert.resolved_by == actor:
            log.append(actor, "alert.resolve", alert.event.event_id,
                       {"device": alert.event.device, "model": alert.event.model, "label": alert.event.label})
    for update in result.refused:
        log.append(actor, "alert.resolve.refused", update.event_id,
                   {"reason": "the alert was raised by another node; an edge resolves only its own"})
    for change in changes:
        log.append(actor, "model.version", f"{change.node}/{change.model}",
                   {"previous": change.previous, "version": change.version})
