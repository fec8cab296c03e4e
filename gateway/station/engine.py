"""What the gateway works out from what arrives: NEWS2 for every vitals reading, alarm-limit breaches and
technical alarms, turned into alert events — and, on a timer, no-data and edge-offline alarms.

The engine is plain logic over its per-patient state; :mod:`gateway.station.service` drives it from the
store's writer thread. Every call *plans*: it returns the derived records to write (NEWS2 readings, alert
events) together with the patients' next state, and the state is only adopted (:meth:`StationEngine.commit`)
once the store committed the records. A failed write therefore changes nothing, and the edge's retry of
the same batch produces the same records again (the alert ids are derived from their content).

Readings and events older than the newest already processed for the same patient and source (a
redelivery, or a late arrival) are scored (the NEWS2 reading is stored) but move no alarm.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.alerts import Alert
from gateway.config import StationConfig
from gateway.store.records import WriteBatch
from gateway.vitals import alarms, technical, units
from gateway.vitals.alarms import AlarmSpec
from gateway.vitals.hysteresis import Debounce, LevelTracker
from gateway.vitals.limits import AlarmLimits, LimitRange, Side, levels
from gateway.vitals.news2_score import BANDS, NEWS2_STREAM, Carried, News2Result, News2Settings, score_reading
from iomt.wire.events import Event, EventKind
from iomt.wire.frames import Reading

VITALS_STREAM = "vitals"
STATUS_STREAM = "status"
HEART_RATE_MODEL = "heart_rate"
#: A stream is silent ('no data') after this many of its usual gaps, and never sooner than the configured time.
NO_DATA_GAPS = 5.0


@dataclass(frozen=True, slots=True)
class PatientSettings:
    """What the registry and the limits say about a patient, as the engine needs it."""

    news2: News2Settings
    limits: AlarmLimits


SettingsOf = Callable[[str], PatientSettings]


@dataclass(slots=True)
class Arrival:
    """When a stream last delivered (gateway clock, µs) and its usual gap between deliveries (s, smoothed)."""

    last_us: int
    gap_s: float | None = None


@dataclass(slots=True)
class PatientState:
    device: str
    site: str = "default"
    node: str | None = None
    carried: Carried = field(default_factory=Carried)
    trackers: dict[str, LevelTracker] = field(default_factory=dict)
    opened: dict[str, Event] = field(default_factory=dict)
    since: dict[str, int] = field(default_factory=dict)
    newest: dict[str, int] = field(default_factory=dict)
    arrivals: dict[str, Arrival] = field(default_factory=dict)

    def clone(self) -> PatientState:
        """A copy the engine may change without touching this one (cheaper than ``copy.deepcopy``)."""
        return PatientState(
            self.device, self.site, self.node, Carried(dict(self.carried.values), self.carried.acvpu),
            {k: LevelTracker(t.debounce, t.level, deque(t.recent)) for k, t in self.trackers.items()},
            dict(self.opened), dict(self.since), dict(self.newest), self.arrivals,
        )


@dataclass(frozen=True, slots=True)
class VitalsUpdate:
    """A vitals reading as the station shows it: its vitals under the API's names, and its NEWS2."""

    device: str
    t_us: int
    vitals: Mapping[str, float]
    news2: News2Result


@dataclass(slots=True)
class Plan:
    """Records to write, and the state to adopt once they are written."""

    readings: list[Reading] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    states: dict[str, PatientState] = field(default_factory=dict)
    nodes: dict[str, str] = field(default_factory=dict)
    vitals: list[VitalsUpdate] = field(default_factory=list)

    @property
    def batch(self) -> WriteBatch:
        return WriteBatch(readings=self.readings, events=self.events)


class StationEngine:
    def __init__(self, config: StationConfig, settings_of: SettingsOf, nodes: Mapping[str, str] | None = None) -> None:
        self.config = config
        self.settings_of = settings_of
        self.news2_debounce = Debounce(config.news2_enter_readings, config.news2_leave_readings)
        self.limit_debounce = Debounce(config.limit_enter_readings, config.limit_leave_readings)
        self.news2 = alarms.news2_spec(self.news2_debounce)
        self._limit_specs: dict[tuple[str, Side], AlarmSpec] = {}
        self.patients: dict[str, PatientState] = {
            device: PatientState(device, node=node) for device, node in (nodes or {}).items()
        }

    # -- state ---------------------------------------------------------------------------------------
    def restore(self, open_alerts: Iterable[Alert]) -> int:
        """Adopt the gateway's own open alerts (after a restart): their alarms start at the alert's level."""
        restored = 0
        for alert in open_alerts:
            event = alert.event
            key, level = event.detail.get("key"), event.detail.get("level")
            if event.node or event.detail.get("source") != "gateway" or not isinstance(key, str):
                continue
            spec = self.spec_for(key)
            if spec is None or not isinstance(level, int) or level not in spec.labels:
                continue
            state = self.patients.setdefault(event.device, PatientState(event.device))
            state.site = event.site
            state.trackers[key] = LevelTracker(spec.debounce, level=level)
            state.opened[key] = event
            restored += 1
        return restored

    def spec_for(self, key: str) -> AlarmSpec | None:
        """The alarm a key names (as stored in an alert's ``detail.key``)."""
        fixed = {s.key: s for s in (alarms.BATTERY, alarms.NO_DATA, alarms.EDGE_OFFLINE)}
        if key in fixed:
            return fixed[key]
        if key == "news2":
            return alarms.news2_spec(self.news2_debounce)
        parts = key.split(".")
        try:
            if parts[0] == "limit" and len(parts) == 3:
                units.VitalName(parts[1])
                return alarms.limit_spec(parts[1], Side(parts[2]), self.limit_debounce)
            if parts[0] == "model" and len(parts) == 3 and parts[2] == technical.Technical.NOT_ANALYSED.value:
                return alarms.model_spec(parts[1])
            if parts[0] == "quality" and len(parts) >= 3:
                stream, problem = key[len("quality."):].rsplit(".", 1)
                return alarms.quality_spec(stream, technical.Technical(problem))
        except ValueError:
            return None
        return None

    def commit(self, plan: Plan) -> None:
        self.patients.update(plan.states)

    def node_of(self, device: str) -> str | None:
        state = self.patients.get(device)
        return state.node if state else None

    def _draft(self, plan: Plan, device: str) -> PatientState:
        """The patient's next state in ``plan`` (a copy of the current one, made on first use)."""
        state = plan.states.get(device)
        if state is None:
            state = self._live(device).clone()
            plan.states[device] = state
        return state

    def _live(self, device: str) -> PatientState:
        state = self.patients.get(device)
        if state is None:
            state = self.patients[device] = PatientState(device)
        return state

    # -- ingest --------------------------------------------------------------------------------------
    def plan_batch(self, batch: WriteBatch, node: str | None, now_us: int) -> Plan:
        """What a batch an edge sent (``node``, from the uplink) makes the gateway write and change.

        When and from which edge a device's data arrived is noted at once, not planned: it arrived, whether
        or not the write then succeeds (a retry brings the same data again)."""
        plan = Plan()
        for device, stream in {(f.device, f.stream) for f in batch.frames} | {(r.device, r.stream)
                                                                               for r in batch.readings}:
            self._arrived(self._live(device), stream, now_us)
        for device in {f.device for f in batch.frames} | {r.device for r in batch.readings} | {
                e.device for e in batch.events}:
            state = self._live(device)
            if node and state.node != node:
                state.node = node
                plan.nodes[device] = node
        for event in sorted(batch.events, key=lambda e: e.t_us):
            self._event(plan, event)
        for reading in sorted(batch.readings, key=lambda r: r.t_us):
            if reading.stream == VITALS_STREAM:
                self._vitals(plan, reading)
            elif reading.stream == STATUS_STREAM:
                self._status(plan, reading)
        return plan

    @staticmethod
    def _arrived(state: PatientState, stream: str, now_us: int) -> None:
        arrival = state.arrivals.get(stream)
        if arrival is None:
            state.arrivals[stream] = Arrival(now_us)
            return
        gap = max(0.0, (now_us - arrival.last_us) / 1e6)
        arrival.gap_s = gap if arrival.gap_s is None else 0.9 * arrival.gap_s + 0.1 * gap
        arrival.last_us = max(arrival.last_us, now_us)

    @staticmethod
    def _fresh(state: PatientState, source: str, t_us: int) -> bool:
        """Whether ``t_us`` is newer than the last instant processed from ``source`` (and note it if so)."""
        if t_us <= state.newest.get(source, -1):
            return False
        state.newest[source] = t_us
        return True

    def _vitals(self, plan: Plan, reading: Reading) -> None:
        state = self._draft(plan, reading.device)
        settings = self.settings_of(reading.device)
        fresh = self._fresh(state, VITALS_STREAM, reading.t_us)
        carried = state.carried if fresh else Carried(dict(state.carried.values), state.carried.acvpu)
        vitals = units.canonical(reading.values)
        result = score_reading(reading.t_us, reading.values, settings.news2, carried, vitals)
        plan.readings.append(Reading(reading.device, NEWS2_STREAM, reading.seq, reading.t_us, result.as_values()))
        plan.vitals.append(VitalsUpdate(reading.device, reading.t_us, vitals, result))
        if not fresh:
            return
        if result.total is not None and result.band is not None:
            rank = BANDS.index(result.band)

            def detail(r: News2Result = result) -> Mapping[str, Any]:
                return {"total": r.total, "parameters": {p.value: s for p, s in r.parameters.items()},
                        "consciousness_assumed": r.consciousness_assumed, "spo2_scale": r.spo2_scale.value}

            self._apply(plan.events, state, self.news2, rank, rank, reading.t_us, float(result.total), detail)
        ecg_hr_us = state.newest.get(HEART_RATE_MODEL)
        ecg_fresh = ecg_hr_us is not None and reading.t_us - ecg_hr_us <= self.config.ecg_hr_fresh_s * 1e6
        for vital, value in vitals.items():
            if vital == units.VitalName.HR and ecg_fresh:
                continue  # the ECG's heart rate drives the HR limits while it comes
            self._limits(plan.events, state, settings.limits, vital, value, reading.t_us, "monitor")

    def _limits(self, out: list[Event], state: PatientState, limits: AlarmLimits, vital: str, value: float,
                t_us: int, measured_by: str) -> None:
        spec_range = limits.of(vital)
        for side, (enter, hold) in levels(vital, value, spec_range).items():
            spec = self._limit_spec(vital, side)
            if not (enter or hold) and spec.key not in state.trackers:
                continue  # inside the limits and never alarmed: nothing to do (the common case)

            def detail(r: LimitRange = spec_range, v: str = vital, by: str = measured_by) -> Mapping[str, Any]:
                return {"limits": dataclasses.asdict(r), "unit": units.VITALS[v].unit, "measured_by": by}

            self._apply(out, state, spec, enter, hold, t_us, value, detail)

    def _limit_spec(self, vital: str, side: Side) -> AlarmSpec:
        key = (vital, side)
        spec = self._limit_specs.get(key)
        if spec is None:
            spec = self._limit_specs[key] = alarms.limit_spec(vital, side, self.limit_debounce)
        return spec

    def _status(self, plan: Plan, reading: Reading) -> None:
        pct = reading.values.get("battery_pct")
        state = self._draft(plan, reading.device)
        if pct is None or not self._fresh(state, STATUS_STREAM, reading.t_us):
            return
        enter, hold = technical.battery_levels(pct, self.config.battery_low_pct, self.config.battery_critical_pct)
        self._apply(plan.events, state, alarms.BATTERY, enter, hold, reading.t_us, pct, {"battery_pct": pct})

    def _event(self, plan: Plan, event: Event) -> None:
        state = self._draft(plan, event.device)
        state.site = event.site
        if event.kind == EventKind.INFERENCE and event.model == HEART_RATE_MODEL and event.value is not None:
            if self._fresh(state, HEART_RATE_MODEL, event.t_us):
                self._limits(plan.events, state, self.settings_of(event.device).limits, units.VitalName.HR,
                             event.value, event.t_us, "ecg")
            return
        found = technical.stream_problem(event)
        if found is None:
            self._model_quality(plan, state, event)
            return
        stream, problem = found
        if not self._fresh(state, f"quality.{stream}", event.t_us):
            return
        for candidate in technical.STREAM_PROBLEMS:
            level = int(candidate == problem)
            self._apply(plan.events, state, alarms.quality_spec(stream, candidate), level, level, event.t_us, None,
                        {"reported_by": event.model})

    def _model_quality(self, plan: Plan, state: PatientState, event: Event) -> None:
        found = technical.model_problem(event)
        if found is None or not self._fresh(state, f"model.{found[0]}", event.t_us):
            return
        model, problem = found
        detail = {"reported_by": model, "reason": event.label, "message": event.detail.get("message")}
        self._apply(plan.events, state, alarms.model_spec(model), int(problem), int(problem), event.t_us, None,
                    detail)

    # -- timer ---------------------------------------------------------------------------------------
    def plan_tick(self, now_us: int, edge_status: Mapping[str, str]) -> Plan:
        """No-data and edge-offline alarms as of ``now_us`` (gateway clock), given each edge's status."""
        plan = Plan()
        for device, current in self.patients.items():
            offline = current.node is not None and edge_status.get(current.node) == "offline"
            stopped = sorted(s for s, a in current.arrivals.items() if now_us - a.last_us > self._silence_us(a))
            no_data = 0 if offline else int(bool(stopped))
            if int(offline) == _level(current, alarms.EDGE_OFFLINE) and (offline or no_data == _level(current,
                                                                                                       alarms.NO_DATA)):
                continue  # nothing changes: leave the patient's state alone
            state = self._draft(plan, device)
            self._apply(plan.events, state, alarms.EDGE_OFFLINE, int(offline), int(offline), now_us, None,
                        {"node": current.node})
            if not offline:
                self._apply(plan.events, state, alarms.NO_DATA, no_data, no_data, now_us, None, {"streams": stopped})
        return plan

    def _silence_us(self, arrival: Arrival) -> float:
        usual = NO_DATA_GAPS * (arrival.gap_s or 0.0)
        return max(self.config.no_data_after_s, usual) * 1e6

    # -- levels to alerts ----------------------------------------------------------------------------
    @staticmethod
    def _apply(out: list[Event], state: PatientState, spec: AlarmSpec, enter: int, hold: int, t_us: int,
               value: float | None, detail: Mapping[str, Any] | Callable[[], Mapping[str, Any]]) -> None:
        """Feed one measurement to the alarm ``spec``; on a change of its confirmed level, resolve the open alert
        and raise one for the new level (``detail``, or what it returns when called, goes into that alert)."""
        tracker = state.trackers.get(spec.key)
        if tracker is None:
            if enter == 0 and hold == 0:
                return  # never alarmed: nothing to track
            tracker = state.trackers[spec.key] = LevelTracker(spec.debounce)
        if enter > 0:
            state.since.setdefault(spec.key, t_us)
        else:
            state.since.pop(spec.key, None)
        before = tracker.level
        after = tracker.update(enter, hold)
        if after == before:
            return
        opened = state.opened.pop(spec.key, None)
        if opened is not None:
            out.append(alarms.resolution(opened, t_us, "cleared" if after == 0 else f"now level {after}"))
        if after > 0:
            raised = alarms.Raise(spec, state.device, state.site, after, t_us, state.since.get(spec.key, t_us), value,
                                  detail() if callable(detail) else detail).event()
            out.append(raised)
            state.opened[spec.key] = raised


def _level(state: PatientState, spec: AlarmSpec) -> int:
    tracker = state.trackers.get(spec.key)
    return tracker.level if tracker is not None else 0
