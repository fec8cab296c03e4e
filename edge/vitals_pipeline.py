"""Vital signs: the vitals risk model over each patient's last five minutes of readings, once a minute.

The vitals monitor's readings (``vitals`` stream, ~1 Hz, JSON) are not frames: the processor hands
them over in order through :meth:`VitalsPipeline.on_reading`. Each patient gets a window every
:data:`~models.preprocessing.vitals.HOP_S` seconds of device time, counted from their first reading,
ending at the reading that completes it — the same ends the training windows have
(:func:`cloud.labels.vitals_windows`); the model input is :func:`models.preprocessing.vitals.window`'s,
the function training used. For a monitor that measures blood pressure or temperature (or is charted
a consciousness level) only now and then, the last value stands in for windows without one, for a
while (:mod:`edge.vitals_readings`; the inference event says so in ``detail.carried``). A window in
which a measured vital still has no value is not scored (counted in ``unscored``): the model was
never shown a patient without, say, a cuff. The node says so once, as a ``quality`` event of model
``vitals`` (label ``no_bp_sys`` ..., ``detail.message`` "vitals risk not analysed: no systolic BP"),
and once more (``analysed``) when the patient's windows are scored again.

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
from edge.vitals_readings import PatientReadings
from iomt.wire.errors import DecodeError
from iomt.wire.events import Event
from iomt.wire.frames import Frame, Reading
from iomt.wire.vitals import vitals_row
from models.preprocessing import PREPROCESSING_VERSION
from models.preprocessing.vitals import HOP_S, WINDOW_S, window
from models.runtime import ModelRunner

MODEL = ModelName.VITALS
STREAM = "vitals"
_HOP_US = round(HOP_S * 1e6)
_WINDOW_US = round(WINDOW_S * 1e6)

#: Label of the quality event that says a patient's windows are scored again.
ANALYSED = "analysed"
#: How a "not analysed" message names each measured vital.
VITAL_NAMES = {"hr": "pulse", "spo2": "SpO2", "bp_sys": "systolic BP", "bp_dia": "diastolic BP",
               "temp_c": "temperature", "resp_rate": "respiration rate"}

#: A vitals window's ``extra``: the number of readings it was cut from, and the vitals whose last value
#: from before the window stood in (:mod:`edge.vitals_readings`).
VitalsWindow = Window[tuple[int, tuple[str, ...]]]


@dataclass(slots=True)
class _Patient:
    #: device time of the first reading (the origin of the window schedule and of the model's seconds)
    origin_us: int
    next_end_us: int
    risk: RiskState
    readings: PatientReadings = field(default_factory=PatientReadings)
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

    def counters(self) -> dict[str, int]:
        return {"patients": len(self._patients), "windows": self.windows, "unscored": self.unscored,
                "rejected_readings": self.rejected, "clock_restarts": self.restarts}

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
            for end_us, arrival_ns in patient.due:
                span = (end_us - _WINDOW_US, end_us)
                times, rows, n, carried = readings.for_window(*span)
                x = window((times - patient.origin_us) / 1e6, rows, (end_us - patient.origin_us) / 1e6)
                if x is None:
                    self.unscored += 1
                    inside = (times > span[0]) & (times <= end_us)
                    lacking = np.asarray(np.isnan(rows[inside, : len(VITAL_NAMES)]).all(axis=0)).tolist()
                    missing = tuple(name for name, gone in zip(VITAL_NAMES, lacking, strict=True) if gone)
                    events.extend(self._verdict(device, patient, missing, span))
                    continue
                events.extend(self._verdict(device, patient, (), span))
                windows.append(Window(device, span[0], end_us, x, arrival_ns, (n, carried)))
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
                 "readings": w.extra[0], **({"carried": list(w.extra[1])} if w.extra[1] else {})},
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
