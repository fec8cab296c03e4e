"""Vital signs: the vitals risk model over each patient's last five minutes of readings, once a minute.

The vitals monitor's readings (``vitals`` stream, ~1 Hz, JSON) are not frames: the processor hands
them over in order through :meth:`VitalsPipeline.on_reading`. Each patient gets a window every
:data:`~models.preprocessing.vitals.HOP_S` seconds of device time, counted from their first reading,
ending at the reading that completes it — the same ends the training windows have
(:func:`cloud.labels.vitals_windows`); the model input is :func:`models.preprocessing.vitals.window`'s,
the function training used. A window in which a measured vital (HR, SpO2, BP, temperature,
respiration) has no reading at all is not scored (counted in ``unscored``): the model was never shown
a patient without, say, a cuff. The node says so once, as a ``quality`` event of model ``vitals``
(label ``no_bp_sys`` ..., ``detail.message`` "vitals risk not analysed: no systolic BP"), and once
more (``analysed``) when the patient's windows are scored again.

Each scored window gives an inference event (class, its probability, all five probabilities); the
class drives :class:`edge.alerts.RiskState`, which raises ``vitals_risk_*`` alerts from
``alert_from`` up, escalating and de-escalating like the RCP bands. NEWS2 itself (with the patient's
SpO2 scale and charted consciousness) is the gateway's: this is the model's second opinion, from the
edge, and it can be told to report only (``alert_from=None``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edge.alerts import RISK_LEVEL, RiskState
from edge.config import ModelName
from edge.events import EventFactory
from edge.pipeline import Window
from iomt.wire.errors import DecodeError
from iomt.wire.events import Event
from iomt.wire.frames import Frame, Reading
from iomt.wire.vitals import FIELDS, vitals_row
from models.preprocessing import PREPROCESSING_VERSION
from models.preprocessing.vitals import HOP_S, WINDOW_S, window
from models.runtime import ModelRunner

MODEL = ModelName.VITALS
STREAM = "vitals"
#: Most readings kept per patient: five minutes at up to ~13 readings a second; beyond, the oldest go.
MAX_READINGS = 4096
_HOP_US = round(HOP_S * 1e6)
_WINDOW_US = round(WINDOW_S * 1e6)

#: Label of the quality event that says a patient's windows are scored again.
ANALYSED = "analysed"
#: How a "not analysed" message names each measured vital.
VITAL_NAMES = {"hr": "pulse", "spo2": "SpO2", "bp_sys": "systolic BP", "bp_dia": "diastolic BP",
               "temp_c": "temperature", "resp_rate": "respiration rate"}

#: A vitals window's ``extra``: the number of readings it was cut from.
VitalsWindow = Window[int]


class _Readings:
    """One patient's recent readings: device times (µs) and rows of :data:`FIELDS`, oldest first, in
    arrays that grow by a quarter when full (a minute past the window at 1 Hz: ~380 rows, 27 KB) up to
    :data:`MAX_READINGS`, beyond which the oldest go."""

    __slots__ = ("n", "rows", "times")

    def __init__(self, capacity: int = 64) -> None:
        self.times = np.zeros(capacity, np.int64)
        self.rows = np.zeros((capacity, len(FIELDS)), np.float64)
        self.n = 0

    def append(self, t_us: int, row: list[float]) -> None:
        if self.n == len(self.times):
            if self.n >= MAX_READINGS:
                self.drop_before(int(self.times[1]))
            else:
                grown = min(MAX_READINGS, self.n + max(16, self.n // 4))
                self.times = np.resize(self.times, grown)
                self.rows = np.resize(self.rows, (grown, len(FIELDS)))
        self.times[self.n] = t_us
        self.rows[self.n] = row
        self.n += 1

    def drop_before(self, t_us: int) -> None:
        """Forget the readings taken before ``t_us``."""
        k = int(np.searchsorted(self.times[: self.n], t_us, side="left"))
        if k:
            kept = self.n - k
            self.times[:kept] = self.times[k : self.n]
            self.rows[:kept] = self.rows[k : self.n]
            self.n = kept

    def clear(self) -> None:
        self.n = 0

    @property
    def last_us(self) -> int | None:
        return int(self.times[self.n - 1]) if self.n else None


@dataclass(slots=True)
class _Patient:
    #: device time of the first reading (the origin of the window schedule and of the model's seconds)
    origin_us: int
    next_end_us: int
    risk: RiskState
    readings: _Readings = field(default_factory=_Readings)
    #: ``(end_us, arrival_ns)`` of windows due, in order
    due: list[tuple[int, int]] = field(default_factory=list)
    #: the vitals missing from the last window, when it could not be scored
    missing: tuple[str, ...] = ()
    #: a "not analysed" verdict has been reported (its end is then worth saying)
    reported: bool = False


class VitalsPipeline:
    model = MODEL
    streams: frozenset[str] = frozenset()  # no waveform frames
    reading_streams = frozenset({STREAM})

    def __init__(self, events: EventFactory, alert_from: str | None = "medium") -> None:
        if alert_from is not None and RISK_LEVEL.get(alert_from, 0) == 0:
            alerting = [name for name, level in RISK_LEVEL.items() if level]
            raise ValueError(f"alert_from {alert_from!r}: must be one of {', '.join(alerting)} or None")
        self.events = events
        #: lowest alerting level; above every level when alerts are off
        self._min_level = RISK_LEVEL[alert_from] if alert_from is not None else max(RISK_LEVEL.values()) + 1
        self._patients: dict[str, _Patient] = {}
        #: patients with a window due (a dict: ordered, unique)
        self._due: dict[str, None] = {}
        self.windows = 0
        #: windows not scored: a measured vital had no reading in them
        self.unscored = 0
        #: readings whose values cannot be what their names say (forwarded all the same; not scored)
        self.rejected = 0
        #: patients whose device clock went back: their buffer restarted
        self.restarts = 0

    def on_reading(self, reading: Reading, arrival_ns: int) -> list[Event]:
        try:
            row = vitals_row(reading.values)
        except DecodeError:
            self.rejected += 1
            return []
        t_us = reading.t_us
        patient = self._patients.get(reading.device)
        last_us = patient.readings.last_us if patient is not None else None
        if patient is not None and last_us is not None and t_us <= last_us:
            # a device clock that stepped back: windows of spliced times would mean nothing
            self.restarts += 1
            patient.readings.clear()
            patient.due.clear()
            patient.origin_us, patient.next_end_us = t_us, t_us + _HOP_US
        elif patient is None:
            patient = self._patients[reading.device] = _Patient(t_us, t_us + _HOP_US, risk=RiskState(self._min_level))
        patient.readings.append(t_us, row)
        if t_us >= patient.next_end_us:
            patient.due.append((t_us, arrival_ns))
            patient.next_end_us = t_us + _HOP_US
            self._due[reading.device] = None
        return []

    def on_frame(self, frame: Frame, arrival_ns: int) -> list[Event]:
        return []  # reads no frames (``streams`` is empty)

    def on_gap(self, device: str, stream: str) -> None:
        """Lost readings leave a gap the window's steps fill from their neighbours, as training's do."""

    def ready(self) -> tuple[list[VitalsWindow], list[Event]]:
        windows: list[VitalsWindow] = []
        events: list[Event] = []
        for device in self._due:
            patient = self._patients[device]
            if not patient.due:
                continue  # its clock stepped back after the window fell due
            readings = patient.readings
            times = readings.times[: readings.n]
            rows = readings.rows[: readings.n]
            t_s = (times - patient.origin_us) / 1e6
            for end_us, arrival_ns in patient.due:
                x = window(t_s, rows, (end_us - patient.origin_us) / 1e6)
                inside = (times > end_us - _WINDOW_US) & (times <= end_us)
                span = (end_us - _WINDOW_US, end_us)
                if x is None:
                    self.unscored += 1
                    lacking = np.asarray(np.isnan(rows[inside, : len(VITAL_NAMES)]).all(axis=0)).tolist()
                    missing = tuple(name for name, gone in zip(VITAL_NAMES, lacking, strict=True) if gone)
                    events.extend(self._verdict(device, patient, missing, span))
                    continue
                events.extend(self._verdict(device, patient, (), span))
                windows.append(Window(device, span[0], end_us, x, arrival_ns, int(np.count_nonzero(inside))))
            # the next window starts after the last one's end minus a window: older readings are done with
            readings.drop_before(patient.due[-1][0] - _WINDOW_US + 1)
            patient.due.clear()
        self._due = {}
        self.windows += len(windows)
        return windows, events

    def _verdict(self, device: str, patient: _Patient, missing: tuple[str, ...], span: tuple[int, int]) -> list[Event]:
        """The quality event of a change of verdict: not analysed (``missing`` vitals) or analysed again."""
        if missing == patient.missing:
            return []
        patient.missing = missing
        if not missing:
            if not patient.reported:
                return []
            return [self.events.model_quality(device, MODEL, PREPROCESSING_VERSION, ANALYSED, False, span,
                                              {"message": "vitals risk analysed again"})]
        patient.reported = True
        names = ", ".join(VITAL_NAMES[name] for name in missing)
        return [self.events.model_quality(
            device, MODEL, PREPROCESSING_VERSION, f"no_{missing[0]}", True, span,
            {"message": f"vitals risk not analysed: no {names}", "missing": list(missing)},
        )]

    def on_outputs(
        self, windows: list[VitalsWindow], outputs: np.ndarray | None, runner: ModelRunner | None
    ) -> list[Event]:
        if outputs is None or runner is None:
            return []
        events = []
        for w, probs in zip(windows, outputs, strict=True):
            best = int(probs.argmax())
            risk_class = runner.classes[best]
            window_span = (w.start_us, w.end_us)
            events.append(self.events.inference(
                w.device, MODEL, runner.version, risk_class, float(probs[best]), window_span,
                {"probabilities": {c: round(float(p), 3) for c, p in zip(runner.classes, probs, strict=True)},
                 "readings": w.extra},
            ))
            if risk_class not in RISK_LEVEL:
                continue  # a model of other classes: it reports, its classes raise nothing
            for label, state, priority, score, raised_by in self._patients[w.device].risk.on_window(
                risk_class, float(probs[best]), w.end_us
            ):
                events.append(self.events.alert(
                    w.device, MODEL, runner.version, label, priority, state, score, window_span, raised_by,
                    risk=risk_class,
                ))
        return events
