"""One factory builds every event of a node; every alert gets its id from one policy, deterministic
from the site, device, model, label and the window that raised it."""

from __future__ import annotations

import numpy as np

from edge.config import EdgeConfig
from edge.dsp.quality import SignalProblem
from edge.events import EventFactory, alert_id
from edge.processor import EdgeProcessor
from iomt.wire import topics
from iomt.wire.events import AlertState, Event, EventKind, Priority, decode_event, encode_event
from iomt.wire.frames import encode_frame, make_frame
from tests.e2e.scripted import scripted_ecg

T0_US = 1_764_000_000_000_000
EVENTS = EventFactory("ward", "edge-7")


def test_every_event_carries_the_node_and_the_window_it_describes() -> None:
    inference = EVENTS.inference("p1", "fall", "1.0.0", "no_fall", 0.1, (10, 20), {"impact_us": 15})
    quality = EVENTS.quality("p1", "ecg", SignalProblem.LEAD_OFF, (30, 40))
    recovered = EVENTS.quality("p1", "ecg", None, (40, 50))
    alert = EVENTS.alert("p1", "ecg", "1.0.0", "ventricular_run", Priority.HIGH, AlertState.RAISED, 4.0, (5, 9), 7)
    for event, kind, window in [(inference, EventKind.INFERENCE, (10, 20)), (quality, EventKind.QUALITY, (30, 40)),
                                (recovered, EventKind.QUALITY, (40, 50)), (alert, EventKind.ALERT, (5, 9))]:
        assert (event.site, event.node, event.kind) == ("ward", "edge-7", kind)
        assert (event.window_start_us, event.window_end_us, event.t_us) == (*window, window[1])
        assert decode_event(encode_event(event)) == event  # what goes on the wire comes back the same
    assert (quality.label, quality.priority, quality.score, quality.detail) == ("lead_off", "medium", 1.0,
                                                                                {"stream": "ecg"})
    assert (recovered.label, recovered.priority, recovered.score) == ("signal_ok", "info", 0.0)
    assert inference.state is None and alert.state is AlertState.RAISED


def test_an_alert_id_is_the_same_for_the_same_raising_window_and_differs_otherwise() -> None:
    one = alert_id("ward", "p1", "ecg", "ventricular_run", 1_000)
    assert one == alert_id("ward", "p1", "ecg", "ventricular_run", 1_000)
    assert len(one) == 32 and int(one, 16) >= 0  # a hex string like every event id: it can stand in a URL
    others = {alert_id("ward2", "p1", "ecg", "ventricular_run", 1_000), alert_id("ward", "p2", "ecg",
              "ventricular_run", 1_000), alert_id("ward", "p1", "emotion", "ventricular_run", 1_000),
              alert_id("ward", "p1", "ecg", "ectopy_burden", 1_000), alert_id("ward", "p1", "ecg",
              "ventricular_run", 1_001)}
    assert one not in others and len(others) == 5
    # the parts are separated, not concatenated: ("p1", "2") and ("p", "12") are different alerts
    assert alert_id("s", "p1", "m", "l", 2) != alert_id("s", "p", "m", "l1", 2)


def test_the_raised_event_is_the_alert_and_the_resolving_event_names_it() -> None:
    def alert(state: AlertState, node: str = "edge-7") -> Event:
        factory = EventFactory("ward", node)
        return factory.alert("p1", "emotion", "2.0.0", "stress", Priority.LOW, state, 0.7, (100, 200), 200)

    raised, resolved = alert(AlertState.RAISED), alert(AlertState.RESOLVED)
    expected = alert_id("ward", "p1", "emotion", "stress", 200)
    assert raised.event_id == raised.detail["alert_id"] == resolved.detail["alert_id"] == expected
    assert resolved.event_id != raised.event_id and resolved.event_id == alert(AlertState.RESOLVED).event_id
    assert alert(AlertState.RAISED, node="edge-8").event_id == raised.event_id  # another node takes over: same alert
    plain = EVENTS.inference("p1", "fall", "1.0.0", "no_fall", 0.1, (10, 20), {})
    assert plain.event_id != EVENTS.inference("p1", "fall", "1.0.0", "no_fall", 0.1, (10, 20), {}).event_id


def run_alerts(frames: list[tuple[str, bytes, int]]) -> list[Event]:
    processor = EdgeProcessor(EdgeConfig(site="ward", node_id="edge-7", models=("ecg",)))
    processor.registry.poll()
    assert processor.registry.current("ecg") is not None, processor.registry.errors()
    events: list[Event] = []
    for frame in frames:  # a processing cycle per frame, as a live node sees one patient
        events += processor.handle_batch([frame]).events
    return [e for e in events if e.kind is EventKind.ALERT]


def test_an_edge_that_restarts_and_infers_the_same_signal_again_raises_the_alert_under_the_same_id() -> None:
    """The store keeps an event once per id: a VT run raised before a crash and again after it (its
    frames were not acknowledged, so the broker delivers them again) is one alert, not two."""
    vt = scripted_ecg("vt-patient", 24.0, seed=1, condition="vt_prone")
    [(vt_start, _end)] = [(a, b) for a, b, label, kind in vt.truth if kind == "rhythm" and label == "VT"][:1]
    rate, samples, scale = vt.streams["ecg"]
    n = round(rate * 0.5)
    frames = []
    for k in range(samples.shape[0] // n):
        raw = np.clip(np.round(samples[k * n : (k + 1) * n] / scale), -32768, 32767).astype(np.int16)
        frame = make_frame("vt-patient", "ecg", k, T0_US + k * 500_000, rate, raw, scale)
        frames.append((topics.data("ward", "vt-patient", "ecg"), encode_frame(frame), k))
    before_crash = run_alerts(frames)
    runs = [e for e in before_crash if e.label == "ventricular_run" and e.state is AlertState.RAISED]
    assert len(runs) == 1
    # restarted a few seconds before the episode, with no state: redelivered frames from there on
    for resume in (int(vt_start / 0.5) - 12, int(vt_start / 0.5) - 8):
        assert resume > 0
        again = [e for e in run_alerts(frames[resume:])
                 if e.label == "ventricular_run" and e.state is AlertState.RAISED]
        assert [e.event_id for e in again] == [runs[0].event_id]
        assert again[0].detail["alert_id"] == runs[0].event_id
