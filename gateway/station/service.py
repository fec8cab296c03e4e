"""The station at run time: the registry and limits (cached, edited through the API, audited), the engine
on the store's writer thread, and the timer that evaluates no-data and edge-offline alarms.

Every write of an uplink batch goes through :meth:`Station.write` on the gateway's single store-writer
thread: the edge's records are committed first (their result is what the edge is acknowledged with), then
what the station derives from them (NEWS2 readings, the gateway's alert events), and only then does the
engine adopt its new state — all before the uplink answers. If the second write fails, the uplink answers
503, the edge sends the batch again, and the engine, which adopted nothing, derives the same records.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from gateway.alerts import OPEN_STATES
from gateway.audit import AuditLog
from gateway.config import GatewayConfig
from gateway.station.engine import PatientSettings, Plan, StationEngine
from gateway.station.records import LimitChange, PatientLimits, PatientRecord, limits_in_force
from gateway.station.state_db import StationState
from gateway.store.base import Store
from gateway.store.records import AlertQuery, WriteBatch, WriteResult
from gateway.vitals.limits import LimitRange
from gateway.vitals.news2_score import News2Settings

log = logging.getLogger(__name__)

#: Most open alerts adopted after a restart.
MAX_RESTORED = 100_000


def now_us() -> int:
    return time.time_ns() // 1000


@dataclass(frozen=True, slots=True)
class Written:
    """A batch written with what the station derived from it: the edge's result (its acknowledgement), the
    derived records' result (``None`` when nothing was derived) and the plan (for the live feed)."""

    edge: WriteResult
    derived: WriteResult | None
    plan: Plan


class Station:
    def __init__(self, config: GatewayConfig, audit: AuditLog | None = None) -> None:
        """``audit``: the gateway's audit log (the station's edits are appended to it); none opens the configured
        file and closes it with the station."""
        self.config = config.station
        self.state = StationState(config.state_file())
        self._own_audit = audit is None
        self.audit = AuditLog(config.audit_file()) if audit is None else audit
        self._lock = threading.Lock()
        self._records = self.state.records()
        self._changes = self.state.latest_limit_changes()
        self._settings: dict[str, PatientSettings] = {}  # built on first use, replaced on every edit
        self.engine = StationEngine(self.config, self.settings_of, self.state.device_nodes())

    def close(self) -> None:
        self.state.close()
        if self._own_audit:
            self.audit.close()

    def restore(self, store: Store) -> int:
        """Adopt the gateway's own open alerts from the store (call once, before the first write)."""
        open_alerts = store.alerts(AlertQuery(states=OPEN_STATES, limit=MAX_RESTORED))
        restored = self.engine.restore(open_alerts)
        if restored:
            log.info("station: %d open alarms of the gateway carried over", restored)
        return restored

    # -- what the engine asks ------------------------------------------------------------------------
    def record(self, device: str) -> PatientRecord:
        return self._records.get(device) or PatientRecord(device)

    def records(self) -> dict[str, PatientRecord]:
        return dict(self._records)

    def limits(self, device: str) -> PatientLimits:
        return limits_in_force(self.record(device), self._changes.get(device))

    def settings_of(self, device: str) -> PatientSettings:
        cache = self._settings  # an edit swaps in a new dict: a value built from old records lands in the old one
        settings = cache.get(device)
        if settings is None:
            record = self.record(device)
            settings = PatientSettings(News2Settings(record.spo2_scale, record.supplemental_oxygen),
                                       self.limits(device).limits)
            cache[device] = settings
        return settings

    # -- the write path (store writer thread) --------------------------------------------------------
    def write(self, store: Store, batch: WriteBatch, node: str | None = None) -> Written:
        result = store.write(batch)
        plan = self.engine.plan_batch(batch, node, now_us())
        derived = store.write(plan.batch) if len(plan.batch) else None
        self.engine.commit(plan)
        if plan.nodes:
            self.state.set_device_nodes(plan.nodes, now_us())
        return Written(result, derived, plan)

    def tick(self, store: Store, at_us: int | None = None) -> WriteResult | None:
        """Evaluate no-data and edge-offline alarms now (store writer thread)."""
        edge_status = {e.node: e.status for e in store.edges()}
        plan = self.engine.plan_tick(now_us() if at_us is None else at_us, edge_status)
        if not plan.events:
            self.engine.commit(plan)
            return None
        result = store.write(plan.batch)
        self.engine.commit(plan)
        return result

    # -- edits (API worker threads) ------------------------------------------------------------------
    def update_record(self, device: str, changes: Mapping[str, Any], who: str, action: str,
                      actor: str | None = None) -> PatientRecord:
        """Change registry fields of ``device`` (``action``: the audit action, e.g. ``registry.update``;
        ``actor``: the audit actor, ``user:<who>`` unless given)."""
        with self._lock:
            before = self.record(device)
            after = replace(before, **changes, updated_by=who, updated_us=now_us())
            self.state.put_record(after)
            self._records = {**self._records, device: after}
            self._settings = {}
        changed = {k: _plain(v) for k, v in changes.items() if getattr(before, k) != v}
        self.audit.append(actor or f"user:{who}", action, f"patient:{device}", {"changed": changed})
        return after

    def set_limits(self, device: str, changes: Mapping[str, LimitRange] | None, who: str) -> PatientLimits:
        """Set some vitals' limits (the others keep theirs), or with ``None`` go back to the condition's defaults."""
        with self._lock:
            current = self.limits(device)
            limits = None if changes is None else current.limits.replace(changes)
            change = LimitChange(device, limits, who, now_us())
            self.state.add_limit_change(change)
            self._changes = {**self._changes, device: change}
            self._settings = {}
            after = self.limits(device)
        detail: dict[str, Any] = {"reset_to": after.condition.value} if changes is None else {
            "changed": {name: {"from": _plain(current.limits.of(name)), "to": _plain(rng)}
                        for name, rng in changes.items()}}
        self.audit.append(f"user:{who}", "limits.reset" if changes is None else "limits.change",
                          f"patient:{device}", detail)
        return after

    def limit_history(self, device: str, limit: int = 100) -> list[LimitChange]:
        return self.state.limit_history(device, limit)


def _plain(value: Any) -> Any:
    """A JSON-able form of a record value (for the audit log's detail)."""
    if isinstance(value, LimitRange):
        return {"low": value.low, "high": value.high, "extreme_low": value.extreme_low,
                "extreme_high": value.extreme_high}
    if hasattr(value, "value"):
        return value.value
    return value
