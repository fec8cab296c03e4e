"""The station's relational state in one SQLite file beside the time-series store (``state.sqlite`` in the
gateway's data directory, whichever time-series backend is used).

Tables: ``patient_registry`` (one row per registered patient), ``alarm_limit_changes`` (every change of a
patient's limits, newest wins; ``limits`` NULL = back to the condition's defaults) and ``device_edges``
(the edge node a device's data last arrived from, so a patient is "not analysed" when that edge is
offline, also after a restart).
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

from gateway.sqlite_tx import immediate
from gateway.station.records import LimitChange, PatientRecord
from gateway.vitals.limits import AlarmLimits, Condition, LimitRange
from models.clinical.news2 import SpO2Scale

SCHEMA = """
CREATE TABLE IF NOT EXISTS patient_registry (
    device TEXT PRIMARY KEY, bed TEXT, room TEXT, display_name TEXT, condition TEXT NOT NULL,
    spo2_scale TEXT NOT NULL, supplemental_oxygen INTEGER NOT NULL, ecg_lead TEXT NOT NULL,
    updated_by TEXT NOT NULL, updated_us INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS alarm_limit_changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT, device TEXT NOT NULL, limits TEXT,
    changed_by TEXT NOT NULL, changed_us INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS alarm_limit_changes_device ON alarm_limit_changes(device, id);
CREATE TABLE IF NOT EXISTS device_edges (
    device TEXT PRIMARY KEY, node TEXT NOT NULL, updated_us INTEGER NOT NULL
);
"""
_REGISTRY_COLUMNS = tuple(f.name for f in dataclasses.fields(PatientRecord))


def limits_from_json(text: str | None) -> AlarmLimits | None:
    if text is None:
        return None
    body: dict[str, dict[str, Any]] = json.loads(text)
    return AlarmLimits(**{name: LimitRange(**values) for name, values in body.items()})


def limits_to_json(limits: AlarmLimits | None) -> str | None:
    return None if limits is None else json.dumps(dataclasses.asdict(limits), sort_keys=True)


def _record(row: tuple[Any, ...]) -> PatientRecord:
    values = dict(zip(_REGISTRY_COLUMNS, row, strict=True))
    values.update(condition=Condition(values["condition"]), spo2_scale=SpO2Scale(values["spo2_scale"]),
                  supplemental_oxygen=bool(values["supplemental_oxygen"]))
    return PatientRecord(**values)


class StationState:
    """Thread-safe: one connection, one lock."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- registry ------------------------------------------------------------------------------------
    def records(self) -> dict[str, PatientRecord]:
        with self._lock:
            rows = self._db.execute(f"SELECT {', '.join(_REGISTRY_COLUMNS)} FROM patient_registry").fetchall()
        return {r.device: r for r in map(_record, rows)}

    def put_record(self, record: PatientRecord) -> None:
        values = [getattr(record, c) for c in _REGISTRY_COLUMNS]
        values = [v.value if isinstance(v, Condition | SpO2Scale) else int(v) if isinstance(v, bool) else v
                  for v in values]
        with self._lock:
            self._db.execute(
                f"INSERT OR REPLACE INTO patient_registry ({', '.join(_REGISTRY_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(_REGISTRY_COLUMNS))})", values,
            )

    # -- alarm limits --------------------------------------------------------------------------------
    def latest_limit_changes(self) -> dict[str, LimitChange]:
        with self._lock:
            rows = self._db.execute(
                "SELECT device, limits, changed_by, changed_us FROM alarm_limit_changes WHERE id IN "
                "(SELECT MAX(id) FROM alarm_limit_changes GROUP BY device)"
            ).fetchall()
        return {d: LimitChange(d, limits_from_json(lim), by, t) for d, lim, by, t in rows}

    def limit_history(self, device: str, limit: int = 100) -> list[LimitChange]:
        """The changes of one patient's limits, newest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT device, limits, changed_by, changed_us FROM alarm_limit_changes WHERE device = ? "
                "ORDER BY id DESC LIMIT ?", (device, limit),
            ).fetchall()
        return [LimitChange(d, limits_from_json(lim), by, t) for d, lim, by, t in rows]

    def add_limit_change(self, change: LimitChange) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO alarm_limit_changes (device, limits, changed_by, changed_us) VALUES (?,?,?,?)",
                (change.device, limits_to_json(change.limits), change.changed_by, change.changed_us),
            )

    # -- which edge serves a device ------------------------------------------------------------------
    def device_nodes(self) -> dict[str, str]:
        with self._lock:
            return dict(self._db.execute("SELECT device, node FROM device_edges").fetchall())

    def set_device_nodes(self, nodes: dict[str, str], t_us: int) -> None:
        with immediate(self._db, self._lock) as db:  # one commit for the lot (a ward's first batch names hundreds)
            db.executemany(
                "INSERT INTO device_edges VALUES (?,?,?) ON CONFLICT(device) DO UPDATE SET node = excluded.node, "
                "updated_us = excluded.updated_us", [(d, n, t_us) for d, n in nodes.items()],
            )
