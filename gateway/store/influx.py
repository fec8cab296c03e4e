"""The InfluxDB store, over the v1 HTTP API (``/write`` line protocol, ``/query`` InfluxQL).

InfluxDB 1.6+ and the 1.x compatibility API of 2.x/3.x serve these endpoints; ``/api/v2`` is not
used. Line protocol is built by the ``influxdb-client`` library's :class:`Point`; this is the only
module that imports it.

Layout (database ``config.database``):

* retention policy ``raw`` (``waveform_days``): ``frames`` (one point per frame: the sample block
  as base64, like SQLite's chunks; tags device, stream, boot; time = first sample plus a few ns
  derived from boot and seq, so a forged frame never overwrites a real one), ``readings``, and
  ``duplicates`` (per write and stream, the redeliveries refused; written in the same request as the
  frames, so the counts expire with the waveforms);
* retention policy ``keep`` (``events_days``): ``events`` (every field of the Event record,
  :mod:`gateway.store.event_cells`; tags device, model, kind, node; time = the event's instant plus a
  few ns derived from its id, so two events never overwrite each other), ``alert_actions`` (the
  alert log: an alert's state is its raising event replayed through its actions with
  :func:`gateway.alerts.apply`), ``edges``, ``deadletters``.

Exactly once: a point's identity is measurement + tags + time, so a redelivered frame overwrites
itself; before writing, one multi-statement query finds the (device, stream, boot, seq) and event ids
already present, which are refused, reported as duplicates and counted per stream.

InfluxDB has no transactions: a write's points and its alert actions are written under one lock,
alert actions last, and every edge resolution in a batch is applied again when the batch is
redelivered (applying it twice changes nothing), so a write that failed half-way completes on retry.
"""

from __future__ import annotations

import base64
import dataclasses
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
from influxdb_client import Point, WritePrecision

from gateway.alerts import Alert, AlertAction, AlertUpdate
from gateway.store import influx_readings
from gateway.store.base import StoreUnavailable
from gateway.store.influx_alerts import AlertLog
from gateway.store.influx_http import InfluxHttp
from gateway.store.influx_lines import ALERT_EVENTS, NO_NODE, event_of, event_point, ns, ns_last, quote
from gateway.store.records import (
    AlertQuery,
    DeviceInfo,
    EdgeModel,
    EdgeStatus,
    EventQuery,
    LatencyStats,
    ReadingSeries,
    Retention,
    Series,
    StreamStats,
    Table,
    WriteBatch,
    WriteResult,
)
from gateway.store.series import readings_series, series_of
from gateway.store.sessions import MAX_JUMP, Session, stream_stats
from iomt.wire.events import AlertState, Event
from iomt.wire.frames import Reading
from iomt.wire.streams import is_reading_stream

log = logging.getLogger(__name__)

RAW = "raw"
KEEP = "keep"
#: A frame is never longer than this; range queries look back this far for frames that overlap.
MAX_FRAME_SPAN_US = 70_000_000
STATS_REFRESH_S = 600.0


def _duration(days: float | None) -> str:
    return "INF" if days is None else f"{max(1, round(days * 24))}h"


class InfluxStore:
    """Thread-safe (one connection pool; one lock around the stream counters, one in the alert log)."""

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
        self._alerts = AlertLog(self._rows, lambda points: self._write(KEEP, points),
                                self._m(KEEP, "events"), self._m(KEEP, "alert_actions"))
        # Per-session counters (gateway.store.sessions) and per-stream refused redeliveries, loaded by one
        # full query and then kept by ``write`` (under _stats_lock, held across the write so a reload can
        # never count a point twice); reloaded every STATS_REFRESH_S so points expired by retention drop out.
        self._stats_lock = threading.Lock()
        self._stats: dict[tuple[str, str, int], Session] | None = None
        self._refused: dict[tuple[str, str], int] = {}
        self._stats_loaded = 0.0
        self._ready = False
        try:
            self._ensure_database()
        except StoreUnavailable as exc:  # start anyway: every call retries, and the uplink answers 503
            log.warning("InfluxDB at %s not reachable yet (%s); will create the database when it is", self.url, exc)

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

    # -- samples --------------------------------------------------------------------------------
    def write(self, batch: WriteBatch) -> WriteResult:
        self._ensure_database()
        present_frames, present_readings, present_events = self._present(batch)
        stored_us = time.time_ns() // 1000
        raw: list[Point] = []
        seen: set[tuple[str, str, int, int]] = set()
        refused: dict[tuple[str, str], int] = defaultdict(int)
        for f in batch.frames:
            key = (f.device, f.stream, f.boot, f.seq)
            if key in present_frames or key in seen:
                refused[(f.device, f.stream)] += 1
                continue
            seen.add(key)
            raw.append(
                Point("frames").tag("device", f.device).tag("stream", f.stream).tag("boot", str(f.boot))
                .field("seq", f.seq).field("t_last_us", f.t_last_us).field("rate", float(f.sample_rate))
                .field("channels", f.channels).field("scale", float(f.scale)).field("dtype", f.samples.dtype.str)
                .field("data", base64.b64encode(f.samples.tobytes()).decode()).field("stored_us", stored_us)
                .time(ns(f.t0_us, f"{f.boot}:{f.seq}"), WritePrecision.NS)
            )
        for r in batch.readings:
            key = (r.device, r.stream, r.boot, r.seq)
            if key in present_readings or key in seen:
                refused[(r.device, r.stream)] += 1
                continue
            seen.add(key)
            point = (Point("readings").tag("device", r.device).tag("stream", r.stream).tag("boot", str(r.boot))
                     .field("seq", r.seq))
            for name, value in r.values.items():
                point.field(f"{influx_readings.PREFIX}{name}", float(value))
            raw.append(point.time(ns(r.t_us, f"{r.boot}:{r.seq}"), WritePrecision.NS))
        now_ns = time.time_ns()
        raw.extend(
            Point("duplicates").tag("device", device).tag("stream", stream).field("refused", n)
            .time(now_ns, WritePrecision.NS)
            for (device, stream), n in refused.items()
        )
        keep: list[Point] = []
        new_events: dict[str, Event] = {}
        for e in batch.events:
            if e.event_id in present_events or e.event_id in new_events:
                continue
            new_events[e.event_id] = e
            keep.append(event_point(e))
        for i, d in enumerate(batch.deadletters):
            keep.append(
                Point("deadletters").tag("node", d.node or NO_NODE).field("topic", d.topic).field("field", d.field)
                .field("reason", d.reason).field("payload_len", d.payload_len)
                .field("payload_head_b64", d.payload_head_b64)
                .time(d.t_us * 1000 + (time.time_ns() + i) % 1000, WritePrecision.NS)
            )
        with self._stats_lock:
            if raw:
                self._write(RAW, raw)
            if self._stats is not None:
                self._count_into(self._stats, self._refused, seen, refused)
        if keep:
            self._write(KEEP, keep)
        not_applied: list[AlertUpdate] = []
        changed = self._alerts.written(new_events.values(), batch.events, not_applied)
        stored = len(seen) + len(keep)
        latest = {a.event.event_id: a for a in changed}  # raised and resolved in one batch: the resolved one
        return WriteResult(stored=stored, duplicates=len(batch) - stored, alerts=tuple(latest.values()),
                           refused=tuple(not_applied))

    @staticmethod
    def _count_into(
        stats: dict[tuple[str, str, int], Session], totals: dict[tuple[str, str], int],
        seen: set[tuple[str, str, int, int]], refused: dict[tuple[str, str], int],
    ) -> None:
        new: dict[tuple[str, str, int], list[int]] = defaultdict(list)
        for device, stream, boot, seq in seen:
            new[(device, stream, boot)].append(seq)
        stamp = time.time_ns()
        for key, seqs in new.items():
            stats.setdefault(key, Session()).add(seqs, stamp)
        for stream_key, n in refused.items():
            totals[stream_key] = totals.get(stream_key, 0) + n

    def _present(
        self, batch: WriteBatch,
    ) -> tuple[set[tuple[str, str, int, int]], set[tuple[str, str, int, int]], set[str]]:
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
            lo, hi = ns(min(times)), ns_last(max(times))
            if measurement == "events":
                statements.append(
                    f"SELECT event_id FROM {self._m(KEEP, 'events')} WHERE device = {quote(device)} "
                    f"AND time >= {lo} AND time <= {hi}"
                )
            else:
                statements.append(
                    f"SELECT seq, boot FROM {self._m(RAW, measurement)} WHERE device = {quote(device)} "
                    f"AND stream = {quote(stream)} AND time >= {lo} AND time <= {hi}"
                )
            keys.append((measurement, device, stream))
        frames: set[tuple[str, str, int, int]] = set()
        readings: set[tuple[str, str, int, int]] = set()
        events: set[str] = set()
        if not statements:
            return frames, readings, events
        for (measurement, device, stream), result in zip(keys, self._query("; ".join(statements)), strict=True):
            for series in result:
                for row in series["values"]:
                    if measurement == "events":
                        events.add(row[1])
                    else:  # a point written before wire v2 has no boot tag: boot 0, as its frame decodes
                        boot = int(row[2]) if row[2] else 0
                        (frames if measurement == "frames" else readings).add((device, stream, boot, int(row[1])))
        return frames, readings, events

    def query_stream(self, device: str, stream: str, start_us: int, end_us: int, max_points: int) -> Series:
        rows = self._rows(
            f"SELECT t_last_us, rate, channels, scale, dtype, data FROM {self._m(RAW, 'frames')} "
            f"WHERE device = {quote(device)} AND stream = {quote(stream)} "
            f"AND time >= {ns(start_us - MAX_FRAME_SPAN_US)} AND time <= {ns_last(end_us)}"
        )
        blocks = [
            (r["time"] // 1000, r["rate"],
             np.frombuffer(base64.b64decode(r["data"]), dtype=np.dtype(r["dtype"])).reshape(-1, r["channels"])
             .astype(np.float32) * np.float32(r["scale"]))
            for r in rows if r["t_last_us"] >= start_us
        ]
        return series_of(device, stream, blocks, start_us, end_us, max_points)

    def query_readings(self, device: str, stream: str, start_us: int, end_us: int, max_points: int) -> ReadingSeries:
        rows = influx_readings.in_range(self._rows, self._m(RAW, "readings"), device, stream, start_us, end_us)
        return readings_series(device, stream, rows, start_us, end_us, max_points)

    def latest_readings(self, stream: str) -> dict[str, Reading]:
        return influx_readings.latest(self._rows, self._m(RAW, "readings"), stream)

    def events(self, query: EventQuery) -> list[Event]:
        where = [f"{tag} = {quote(str(value))}" for tag, value in
                 (("device", query.device), ("kind", query.kind), ("model", query.model)) if value is not None]
        if query.start_us is not None:
            where.append(f"time >= {ns(query.start_us)}")
        if query.end_us is not None:
            where.append(f"time <= {ns_last(query.end_us)}")
        sql = f"SELECT * FROM {self._m(KEEP, 'events')}"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += f" ORDER BY time DESC LIMIT {int(query.limit)}"
        return [event_of(r) for r in self._rows(sql)]

    def latest_events(self, model: str) -> dict[str, Event]:
        rows = self._rows(
            f"SELECT * FROM {self._m(KEEP, 'events')} WHERE model = {quote(model)} GROUP BY device "
            "ORDER BY time DESC LIMIT 1"
        )
        return {r["device"]: event_of(r) for r in rows}

    def stored_sequences(self, device: str, stream: str) -> list[int]:
        """Every stored sequence number of one stream, in order (an inspection helper for tests; no role)."""
        measurement = "readings" if is_reading_stream(stream) else "frames"
        rows = self._rows(
            f"SELECT seq FROM {self._m(RAW, measurement)} WHERE device = {quote(device)} AND stream = {quote(stream)}"
        )
        return sorted(int(r["seq"]) for r in rows)

    # -- accounting -----------------------------------------------------------------------------
    def stream_stats(self) -> list[StreamStats]:
        with self._stats_lock:
            if self._stats is None or time.monotonic() - self._stats_loaded > STATS_REFRESH_S:
                self._stats = self._load_stats()
                self._stats_loaded = time.monotonic()
            by_stream: dict[tuple[str, str], dict[int, Session]] = defaultdict(dict)
            for (device, stream, boot), session in self._stats.items():
                by_stream[(device, stream)][boot] = dataclasses.replace(session)
            refused = dict(self._refused)
        return sorted((stream_stats(d, s, sessions, refused.get((d, s), 0))
                       for (d, s), sessions in by_stream.items()), key=lambda st: (st.device, st.stream))

    def _load_stats(self) -> dict[tuple[str, str, int], Session]:
        """Every session's counters from the server: count, first and last number, and the time of the
        last point per session; a session whose numbers spread far wider than its count (a jump in it)
        is recounted from its numbers."""
        stats: dict[tuple[str, str, int], Session] = {}
        for measurement in ("frames", "readings"):
            m = self._m(RAW, measurement)
            spans = list(self._rows(f"SELECT count(seq), min(seq), max(seq) FROM {m} GROUP BY device, stream, boot"))
            latest = {(r["device"], r["stream"], r.get("boot") or ""): int(r["time"])
                      for r in self._rows(f"SELECT last(seq) FROM {m} GROUP BY device, stream, boot")}
            for row in spans:
                tag = row.get("boot") or ""
                key = (row["device"], row["stream"], int(tag) if tag else 0)
                count, lo, hi = int(row["count"]), int(row["min"]), int(row["max"])
                stamp = latest.get((row["device"], row["stream"], tag), 0)
                session = stats.setdefault(key, Session())
                if (hi - lo + 1) - count <= MAX_JUMP and not session.records:
                    session.records, session.first_seq, session.last_seq, session.updated = count, lo, hi, stamp
                    continue
                where = f"device = {quote(row['device'])} AND stream = {quote(row['stream'])} AND boot = {quote(tag)}"
                session.add([int(r["seq"]) for r in self._rows(f"SELECT seq FROM {m} WHERE {where}")], stamp)
        self._refused = {(r["device"], r["stream"]): int(r["sum"]) for r in
                         self._rows(f"SELECT sum(refused) FROM {self._m(RAW, 'duplicates')} GROUP BY device, stream")}
        return stats

    def count(self, table: Table) -> int:
        events = self._m(KEEP, "events")
        statements = {
            Table.FRAMES: [f"SELECT count(seq) FROM {self._m(RAW, 'frames')}"],
            Table.READINGS: [f"SELECT count(seq) FROM {self._m(RAW, 'readings')}"],
            Table.EVENTS: [f"SELECT count(event_id) FROM {events}"],
            Table.DEADLETTERS: [f"SELECT count(reason) FROM {self._m(KEEP, 'deadletters')}"],
            # alert events less the edges' resolutions, which close an alert and are none themselves
            Table.ALERTS: [f"SELECT count(event_id) FROM {events} WHERE {ALERT_EVENTS}",
                           f"SELECT count(event_id) FROM {events} WHERE {ALERT_EVENTS} "
                           f"AND state = {quote(AlertState.RESOLVED)}"],
        }[Table(table)]  # raises ValueError for anything else, e.g. InfluxQL
        counts = [sum(int(values[1]) for s in result for values in s["values"])
                  for result in self._query("; ".join(statements))]
        return counts[0] - sum(counts[1:])

    def frame_latency(self) -> LatencyStats:
        rows = list(self._rows(f"SELECT stored_us, t_last_us FROM {self._m(RAW, 'frames')}"))
        if not rows:
            return LatencyStats(0, None, None, None)
        ms = np.asarray([r["stored_us"] - r["t_last_us"] for r in rows], dtype=np.float64) / 1000.0
        return LatencyStats(int(ms.size), float(np.percentile(ms, 50)), float(np.percentile(ms, 99)), float(ms.max()))

    # -- fleet ----------------------------------------------------------------------------------
    def set_edge_status(self, node: str, site: str, status: str, t_us: int) -> None:
        self._write(
            KEEP,
            [Point("edges").tag("node", node).field("site", site).field("status", status)
             .field("updated_us", t_us).time(ns(t_us), WritePrecision.NS)],
        )

    def edges(self) -> list[EdgeStatus]:
        rows = self._rows(f"SELECT * FROM {self._m(KEEP, 'edges')} GROUP BY node ORDER BY time DESC LIMIT 1")
        return sorted((EdgeStatus(r["node"], r["site"], r["status"], r["updated_us"]) for r in rows),
                      key=lambda e: e.node)

    def devices(self) -> list[DeviceInfo]:
        streams: dict[str, list[str]] = defaultdict(list)
        sites: dict[str, str] = {}
        last: dict[str, int] = defaultdict(int)
        for measurement in ("frames", "readings"):
            for r in self._rows(f"SELECT last(seq) FROM {self._m(RAW, measurement)} GROUP BY device, stream"):
                streams[r["device"]].append(r["stream"])
                last[r["device"]] = max(last[r["device"]], r["time"] // 1000)
        for r in self._rows(f"SELECT last(site) FROM {self._m(KEEP, 'events')} GROUP BY device"):
            sites[r["device"]] = r["last"]
            last[r["device"]] = max(last[r["device"]], r["time"] // 1000)
        return [DeviceInfo(d, sites.get(d, "default"), tuple(sorted(streams[d])), last[d]) for d in sorted(last)]

    def edge_models(self) -> list[EdgeModel]:
        rows = self._rows(f"SELECT last(model_version) FROM {self._m(KEEP, 'events')} GROUP BY node, model")
        return sorted(
            (EdgeModel(r["node"], r["model"], r["last"], r["time"] // 1000) for r in rows
             if r["node"] not in ("", NO_NODE)),
            key=lambda m: (m.node, m.model),
        )

    # -- alerts ---------------------------------------------------------------------------------
    def alerts(self, query: AlertQuery) -> list[Alert]:
        return self._alerts.query(query)

    def update_alert(self, event_id: str, action: AlertAction, who: str, t_us: int) -> Alert:
        return self._alerts.update(AlertUpdate(event_id, action, who, t_us))

    # -- retention ------------------------------------------------------------------------------
    def prune(self, now_us: int) -> int:
        """InfluxDB enforces the retention policies itself."""
        return 0

    def close(self) -> None:
        self._http.close()
