"""The InfluxDB store, over the v1 HTTP API (``/write`` line protocol, ``/query`` InfluxQL).

InfluxDB 1.6+ and the 1.x compatibility API of 2.x/3.x serve these endpoints; ``/api/v2`` is not
used. Line protocol is built by the ``influxdb-client`` library's :class:`Point`; this is the only
module that imports it.

Layout (database ``config.database``):

* retention policy ``raw`` (``waveform_days``): ``frames`` (one point per frame: the sample block
  as base64, like SQLite's chunks; tags device, stream; time = first sample) and ``readings``;
* retention policy ``keep`` (``events_days``): ``events`` (tags device, model, kind, node; time =
  the event's instant plus a few ns derived from its id, so two events never overwrite each other),
  ``alert_actions``, ``edges``, ``deadletters``.

Exactly once: a point's identity is measurement + tags + time, so a redelivered frame overwrites
itself; before writing, one multi-statement query finds the (device, stream, seq) and event ids
already present, which are reported as duplicates and not written again.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
import zlib
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
from influxdb_client import Point, WritePrecision

from gateway.store.base import (
    Alert,
    AlertNotFound,
    EventQuery,
    LatencyStats,
    Retention,
    Series,
    StoreUnavailable,
    StreamStats,
    WriteBatch,
    WriteResult,
    downsample,
    frames_to_samples,
    next_alert_state,
)
from gateway.store.influx_http import InfluxHttp
from iomt.wire.events import Event
from iomt.wire.streams import is_reading_stream

log = logging.getLogger(__name__)

RAW = "raw"
KEEP = "keep"
_NO_NODE = "-"
#: A frame is never longer than this; range queries look back this far for frames that overlap.
MAX_FRAME_SPAN_US = 70_000_000
STATS_REFRESH_S = 600.0


def _q(value: str) -> str:
    """An InfluxQL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _ns(t_us: int, salt: str = "") -> int:
    return t_us * 1000 + (zlib.crc32(salt.encode()) % 1000 if salt else 0)


def _duration(days: float | None) -> str:
    return "INF" if days is None else f"{max(1, round(days * 24))}h"


class InfluxStore:
    """Thread-safe (one connection pool, one lock around read-modify-write of alerts)."""

    def __init__(
        self,
        url: str,
        database: str = "iomt",
        retention: Retention | None = None,
        timeout_s: float = 10.0,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.database = database
        self.retention = retention or Retention()
        self._http = InfluxHttp(self.url, database, timeout_s, username, password)
        self._lock = threading.Lock()
        # Per-stream counters, loaded by one full query and then kept by ``write`` (under _stats_lock, held
        # across the write so a reload can never count a point twice); reloaded every STATS_REFRESH_S so
        # points the server expired by retention drop out.
        self._stats_lock = threading.Lock()
        self._stats: dict[tuple[str, str], list[int]] | None = None
        self._stats_loaded = 0.0
        self._ready = False
        try:
            self._ensure_database()
        except StoreUnavailable as exc:  # start anyway: every call retries, and the uplink answers 503
            log.warning("InfluxDB not reachable yet (%s); will create the database when it is", exc)

    # -- database -------------------------------------------------------------------------------
    def _ensure_database(self) -> None:
        """Create the database and its two retention policies, or bring their durations in line."""
        if self._ready:
            return
        db = self.database
        self._query_raw(f'CREATE DATABASE "{db}"', database=None)
        series = self._query_raw(f'SHOW RETENTION POLICIES ON "{db}"', database=None)[0].get("series", [])
        existing = {row[0] for s in series for row in s["values"]}
        for name, days, default in ((RAW, self.retention.waveform_days, True), (KEEP, self.retention.events_days,
                                                                                False)):
            verb = "ALTER" if name in existing else "CREATE"
            replication = "" if verb == "ALTER" else " REPLICATION 1"
            self._query_raw(
                f'{verb} RETENTION POLICY "{name}" ON "{db}" DURATION {_duration(days)}{replication}'
                + (" DEFAULT" if default else ""),
                database=None,
            )
        self._ready = True

    def _query_raw(self, q: str, database: str | None = "") -> list[dict[str, Any]]:
        return self._http.query(q, database)

    def _query(self, q: str) -> list[list[dict[str, Any]]]:
        """Run ``q`` (statements separated by ';'); per statement, its series."""
        self._ensure_database()
        return [r.get("series", []) for r in self._query_raw(q)]

    def _rows(self, q: str) -> Iterator[dict[str, Any]]:
        """Rows of a single statement as dicts (tags of the series included)."""
        for series in self._query(q)[0]:
            tags = series.get("tags", {})
            for values in series["values"]:
                yield {**tags, **dict(zip(series["columns"], values, strict=True))}

    def _write(self, rp: str, points: Iterable[Point]) -> None:
        self._ensure_database()
        self._http.write_lines(rp, [p.to_line_protocol() for p in points])

    def _m(self, rp: str, measurement: str) -> str:
        return f'"{self.database}"."{rp}"."{measurement}"'

    # -- writes ---------------------------------------------------------------------------------
    def write(self, batch: WriteBatch) -> WriteResult:
        self._ensure_database()
        present_frames, present_readings, present_events = self._present(batch)
        stored_us = time.time_ns() // 1000
        raw: list[Point] = []
        seen: set[tuple[str, str, int]] = set()
        for f in batch.frames:
            key = (f.device, f.stream, f.seq)
            if key in present_frames or key in seen:
                continue
            seen.add(key)
            raw.append(
                Point("frames").tag("device", f.device).tag("stream", f.stream)
                .field("seq", f.seq).field("t_last_us", f.t_last_us).field("rate", float(f.sample_rate))
                .field("channels", f.channels).field("scale", float(f.scale)).field("dtype", f.samples.dtype.str)
                .field("data", base64.b64encode(f.samples.tobytes()).decode()).field("stored_us", stored_us)
                .time(_ns(f.t0_us), WritePrecision.NS)
            )
        for r in batch.readings:
            key = (r.device, r.stream, r.seq)
            if key in present_readings or key in seen:
                continue
            seen.add(key)
            point = Point("readings").tag("device", r.device).tag("stream", r.stream).field("seq", r.seq)
            for name, value in r.values.items():
                point.field(f"v_{name}", float(value))
            raw.append(point.time(_ns(r.t_us), WritePrecision.NS))
        keep: list[Point] = []
        new_ids: set[str] = set()
        for e in batch.events:
            if e.event_id in present_events or e.event_id in new_ids:
                continue
            new_ids.add(e.event_id)
            keep.append(_event_point(e))
        for i, d in enumerate(batch.deadletters):
            keep.append(
                Point("deadletters").tag("node", d.node or _NO_NODE).field("topic", d.topic).field("field", d.field)
                .field("reason", d.reason).field("payload_len", d.payload_len)
                .field("payload_head_b64", d.payload_head_b64)
                .time(d.t_us * 1000 + (time.time_ns() + i) % 1000, WritePrecision.NS)
            )
        with self._stats_lock:
            if raw:
                self._write(RAW, raw)
            if self._stats is not None:
                for device, stream, seq in seen:
                    entry = self._stats.setdefault((device, stream), [0, seq, seq])
                    entry[0] += 1
                    entry[1] = min(entry[1], seq)
                    entry[2] = max(entry[2], seq)
        if keep:
            self._write(KEEP, keep)
        stored = len(raw) + len(keep)
        return WriteResult(stored=stored, duplicates=len(batch) - stored)

    def _present(self, batch: WriteBatch) -> tuple[set[tuple[str, str, int]], set[tuple[str, str, int]], set[str]]:
        """What of ``batch`` the database already holds, found with one multi-statement query."""
        spans: dict[tuple[str, str, str], list[int]] = defaultdict(list)
        for f in batch.frames:
            spans[("frames", f.device, f.stream)].append(f.t0_us)
        for r in batch.readings:
            spans[("readings", r.device, r.stream)].append(r.t_us)
        for e in batch.events:
            spans[("events", e.device, "")].append(e.t_us)
        statements, keys = [], []
        for (measurement, device, stream), times in spans.items():
            lo, hi = _ns(min(times)), _ns(max(times)) + 999
            if measurement == "events":
                statements.append(
                    f"SELECT event_id FROM {self._m(KEEP, 'events')} WHERE device = {_q(device)} "
                    f"AND time >= {lo} AND time <= {hi}"
                )
            else:
                statements.append(
                    f"SELECT seq FROM {self._m(RAW, measurement)} WHERE device = {_q(device)} "
                    f"AND stream = {_q(stream)} AND time >= {lo} AND time <= {hi}"
                )
            keys.append((measurement, device, stream))
        frames: set[tuple[str, str, int]] = set()
        readings: set[tuple[str, str, int]] = set()
        events: set[str] = set()
        if not statements:
            return frames, readings, events
        for (measurement, device, stream), result in zip(keys, self._query("; ".join(statements)), strict=True):
            for series in result:
                for _t, value in series["values"]:
                    if measurement == "events":
                        events.add(value)
                    else:
                        (frames if measurement == "frames" else readings).add((device, stream, int(value)))
        return frames, readings, events

    def set_edge_status(self, node: str, site: str, status: str, t_us: int) -> None:
        self._write(
            KEEP,
            [Point("edges").tag("node", node).field("site", site).field("status", status)
             .field("updated_us", t_us).time(_ns(t_us), WritePrecision.NS)],
        )

    # -- reads ----------------------------------------------------------------------------------
    def stream_stats(self) -> list[StreamStats]:
        with self._stats_lock:
            if self._stats is None or time.monotonic() - self._stats_loaded > STATS_REFRESH_S:
                self._stats = self._load_stats()
                self._stats_loaded = time.monotonic()
            items = [(key, list(value)) for key, value in self._stats.items()]
        return sorted((StreamStats(d, s, n, lo, hi, 0) for (d, s), (n, lo, hi) in items),
                      key=lambda st: (st.device, st.stream))

    def _load_stats(self) -> dict[tuple[str, str], list[int]]:
        stats: dict[tuple[str, str], list[int]] = {}
        for measurement in ("frames", "readings"):
            for row in self._rows(
                f"SELECT count(seq), min(seq), max(seq) FROM {self._m(RAW, measurement)} GROUP BY device, stream"
            ):
                stats[(row["device"], row["stream"])] = [int(row["count"]), int(row["min"]), int(row["max"])]
        return stats

    def stored_sequences(self, device: str, stream: str) -> list[int]:
        measurement = "readings" if is_reading_stream(stream) else "frames"
        rows = self._rows(
            f"SELECT seq FROM {self._m(RAW, measurement)} WHERE device = {_q(device)} AND stream = {_q(stream)}"
        )
        return sorted(int(r["seq"]) for r in rows)

    def latest_events(self, model: str) -> dict[str, Event]:
        rows = self._rows(
            f"SELECT * FROM {self._m(KEEP, 'events')} WHERE model = {_q(model)} GROUP BY device "
            "ORDER BY time DESC LIMIT 1"
        )
        return {r["device"]: _event(r) for r in rows}

    def frame_latency(self) -> LatencyStats:
        rows = list(self._rows(f"SELECT stored_us, t_last_us FROM {self._m(RAW, 'frames')}"))
        if not rows:
            return LatencyStats(0, None, None, None)
        ms = np.asarray([r["stored_us"] - r["t_last_us"] for r in rows], dtype=np.float64) / 1000.0
        return LatencyStats(int(ms.size), float(np.percentile(ms, 50)), float(np.percentile(ms, 99)), float(ms.max()))

    def count(self, table: str) -> int:
        queries = {
            "frames": f"SELECT count(seq) FROM {self._m(RAW, 'frames')}",
            "readings": f"SELECT count(seq) FROM {self._m(RAW, 'readings')}",
            "events": f"SELECT count(event_id) FROM {self._m(KEEP, 'events')}",
            "alerts": f"SELECT count(event_id) FROM {self._m(KEEP, 'events')} WHERE kind = 'alert'",
            "deadletters": f"SELECT count(reason) FROM {self._m(KEEP, 'deadletters')}",
        }
        if table not in queries:
            raise ValueError(f"unknown table {table!r}")
        return sum(int(r["count"]) for r in self._rows(queries[table]))

    def edges(self) -> list[dict[str, object]]:
        rows = self._rows(f"SELECT * FROM {self._m(KEEP, 'edges')} GROUP BY node ORDER BY time DESC LIMIT 1")
        return sorted(
            ({"node": r["node"], "site": r["site"], "status": r["status"], "updated_us": r["updated_us"]}
             for r in rows),
            key=lambda e: str(e["node"]),
        )

    def devices(self) -> list[dict[str, object]]:
        out: dict[str, dict[str, Any]] = {}
        for measurement in ("frames", "readings"):
            for r in self._rows(f"SELECT last(seq) FROM {self._m(RAW, measurement)} GROUP BY device, stream"):
                entry = out.setdefault(r["device"], {"device": r["device"], "site": "default", "streams": [],
                                                     "last_seen_us": 0})
                entry["streams"].append(r["stream"])
                entry["last_seen_us"] = max(entry["last_seen_us"], r["time"] // 1000)
        for r in self._rows(f"SELECT last(site) FROM {self._m(KEEP, 'events')} GROUP BY device"):
            entry = out.setdefault(r["device"], {"device": r["device"], "site": "default", "streams": [],
                                                 "last_seen_us": 0})
            entry["site"] = r["last"]
            entry["last_seen_us"] = max(entry["last_seen_us"], r["time"] // 1000)
        for entry in out.values():
            entry["streams"].sort()
        return sorted(out.values(), key=lambda e: str(e["device"]))

    def edge_models(self) -> list[dict[str, object]]:
        rows = self._rows(f"SELECT last(model_version) FROM {self._m(KEEP, 'events')} GROUP BY node, model")
        return [
            {"node": r["node"], "model": r["model"], "version": r["last"], "last_seen_us": r["time"] // 1000}
            for r in rows if r["node"] not in ("", _NO_NODE)
        ]

    def query_stream(self, device: str, stream: str, start_us: int, end_us: int, max_points: int) -> Series:
        rows = self._rows(
            f"SELECT t_last_us, rate, channels, scale, dtype, data FROM {self._m(RAW, 'frames')} "
            f"WHERE device = {_q(device)} AND stream = {_q(stream)} "
            f"AND time >= {_ns(start_us - MAX_FRAME_SPAN_US)} AND time <= {_ns(end_us)}"
        )
        blocks = [
            (r["time"] // 1000, r["rate"],
             np.frombuffer(base64.b64decode(r["data"]), dtype=np.dtype(r["dtype"])).reshape(-1, r["channels"])
             .astype(np.float32) * np.float32(r["scale"]))
            for r in rows if r["t_last_us"] >= start_us
        ]
        t, v = frames_to_samples(blocks)
        bt, bv = downsample(t, v, start_us, end_us, max_points)
        return Series(device, stream, bt, bv, int(((t >= start_us) & (t <= end_us)).sum()))

    def events(self, query: EventQuery) -> list[Event]:
        where = [f"{tag} = {_q(value)}" for tag, value in
                 (("device", query.device), ("kind", query.kind), ("model", query.model)) if value is not None]
        if query.start_us is not None:
            where.append(f"time >= {_ns(query.start_us)}")
        if query.end_us is not None:
            where.append(f"time <= {_ns(query.end_us) + 999}")
        sql = f"SELECT * FROM {self._m(KEEP, 'events')}"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += f" ORDER BY time DESC LIMIT {int(query.limit)}"
        return [_event(r) for r in self._rows(sql)]

    def alerts(self, state: str | None = None, device: str | None = None, limit: int = 500) -> list[Alert]:
        where = "kind = 'alert'" + (f" AND device = {_q(device)}" if device is not None else "")
        return self._alerts(where, state, limit)

    def _alerts(self, where: str, state: str | None, limit: int) -> list[Alert]:
        events = [_event(r) for r in self._rows(f"SELECT * FROM {self._m(KEEP, 'events')} WHERE {where} "
                                                "ORDER BY time DESC")]
        actions: dict[str, list[dict[str, Any]]] = defaultdict(list)
        if events:
            for r in self._rows(f"SELECT * FROM {self._m(KEEP, 'alert_actions')} GROUP BY event_id"):
                actions[r["event_id"]].append(r)
        out = []
        for e in events:
            if e.state == "resolved":
                continue  # an edge's resolution event closes the alert it names; it is not an alert itself
            alert = Alert(e, e.state or "raised")
            for a in sorted(actions.get(e.event_id, []), key=lambda r: int(r["time"])):
                alert = _apply(alert, a["action"], a["who"], a["t_us"])
            if state is None or alert.state == state:
                out.append(alert)
        out.sort(key=lambda a: (-a.event.t_us, a.event.event_id))
        return out[:limit]

    def update_alert(self, event_id: str, action: str, who: str, t_us: int) -> Alert:
        with self._lock:
            found = self._alerts(f"kind = 'alert' AND event_id = {_q(event_id)}", None, 1)
            if not found:
                raise AlertNotFound(event_id)
            updated = _apply(found[0], action, who, t_us)
            self._write(
                KEEP,
                [Point("alert_actions").tag("event_id", event_id).field("action", action).field("who", who)
                 .field("t_us", t_us).time(time.time_ns(), WritePrecision.NS)],
            )
        return updated

    def prune(self, now_us: int) -> int:
        """InfluxDB enforces the retention policies itself."""
        return 0

    def close(self) -> None:
        self._http.close()


def _apply(alert: Alert, action: str, who: str, t_us: int) -> Alert:
    state = next_alert_state(alert.state, action)
    if action == "acknowledge":
        return Alert(alert.event, state, who, t_us, alert.resolved_by, alert.resolved_us)
    return Alert(alert.event, state, alert.acknowledged_by, alert.acknowledged_us, who, t_us)


def _event_point(e: Event) -> Point:
    point = (
        Point("events").tag("device", e.device).tag("model", e.model).tag("kind", e.kind)
        .tag("node", e.node or _NO_NODE).field("event_id", e.event_id).field("model_version", e.model_version)
        .field("label", e.label).field("score", float(e.score)).field("priority", e.priority)
        .field("window_start_us", e.window_start_us).field("window_end_us", e.window_end_us)
        .field("t_us", e.t_us).field("site", e.site).field("detail", json.dumps(dict(e.detail)))
    )
    if e.state is not None:
        point.field("state", e.state)
    if e.value is not None:
        point.field("value", float(e.value))
    return point.time(_ns(e.t_us, e.event_id), WritePrecision.NS)


def _event(r: dict[str, Any]) -> Event:
    return Event(
        device=r["device"], model=r["model"], model_version=r["model_version"], kind=r["kind"], label=r["label"],
        score=r["score"], value=r.get("value"), priority=r["priority"], state=r.get("state"),
        window_start_us=r["window_start_us"], window_end_us=r["window_end_us"], t_us=r["t_us"], site=r["site"],
        node="" if r["node"] in (None, _NO_NODE) else r["node"], detail=json.loads(r["detail"]),
        event_id=r["event_id"],
    )
