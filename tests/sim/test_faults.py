"""Fault injection, measured on what the devices publish (an in-memory bus: pure logic)."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

from firmware_sim.fleet import Fleet
from firmware_sim.scenario import Scenario, build_devices
from firmware_sim.truth import TruthEvent, TruthSink
from iomt.transport import Handler, ReceivedMessage
from iomt.wire import topics
from iomt.wire.frames import Frame, Reading, decode_payload


class _Done:
    def wait(self, timeout: float | None = None) -> bool:
        return True

    def done(self) -> bool:
        return True


class MemoryBus:
    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes]] = []

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> _Done:
        self.messages.append((topic, payload))
        return _Done()

    def subscribe(self, topic_filter: str, handler: Handler, qos: int = 1) -> None:
        raise NotImplementedError

    def ack(self, message: ReceivedMessage) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        pass


def _run(faults: list[dict[str, Any]], seconds: float = 20.0, devices: list[str] | None = None,
         ) -> tuple[list[Frame | Reading], dict[str, object], list[TruthEvent], int]:
    scenario = Scenario.model_validate({
        "site": "f", "seed": 1, "faults": faults,
        "patients": [{"count": 1, "devices": devices or ["ecg_patch", "motion", "vitals"], "condition": "normal"}],
    })
    bus = MemoryBus()
    sink = _ListSink()
    fleet = Fleet(bus, "f", [s for d in build_devices(scenario) for s in d.sources], truth=sink,
                  faults=list(scenario.faults), seed=1)
    report = fleet.run(seconds, realtime=False)
    items = [decode_payload(p) for t, p in bus.messages if topics.parse_topic(t).kind is topics.TopicKind.DATA]
    return items, report.as_dict(), sink.seen, report.started_us


class _ListSink(TruthSink):
    def __init__(self) -> None:
        super().__init__(None, "f")
        self.seen: list[TruthEvent] = []

    def emit(self, events: list[TruthEvent]) -> None:
        self.seen.extend(events)


def _seqs(items: list[Frame | Reading], stream: str) -> list[int]:
    return [i.seq for i in items if i.stream == stream]


def _ecg(items: list[Frame | Reading]) -> list[Frame]:
    return [i for i in items if isinstance(i, Frame) and i.stream == "ecg"]


def test_no_faults_means_every_sequence_once_in_order() -> None:
    items, report, truth, _ = _run([])
    streams = report["streams"]
    assert isinstance(streams, dict)
    assert _seqs(items, "ecg") == list(range(streams["patient-0001/ecg"])) == list(range(40))
    assert not any(e.kind == "device" for e in truth)


def test_loss_duplication_and_reordering_show_in_the_sequence_numbers() -> None:
    items, report, truth, _ = _run([
        {"type": "loss", "probability": 1.0, "start_s": 5, "end_s": 7, "streams": ["ecg"]},
        {"type": "duplication", "probability": 0.3, "start_s": 10, "end_s": 15},
        {"type": "reordering", "probability": 0.3, "start_s": 15},
    ])
    seqs = _seqs(items, "ecg")
    assert not set(range(9, 13)) & set(seqs)  # frames acquired in [5, 7) s are gone (ends at 5.5..7.0)
    assert len(seqs) != len(set(seqs))  # duplicates
    assert any(b < a for a, b in itertools.pairwise(seqs))  # reordered
    faults = report["faults"]
    assert isinstance(faults, dict) and faults["lost"] > 0 and faults["duplicated"] > 0 and faults["reordered"] > 0
    assert {e.label for e in truth if e.kind == "device"} == {"loss", "duplication", "reordering"}


def test_disconnect_buffers_and_delivers_on_reconnect_or_drops() -> None:
    items, _, _, _ = _run([{"type": "disconnect", "start_s": 4, "end_s": 8}], seconds=12)
    seqs = _seqs(items, "ecg")
    assert sorted(seqs) == list(range(24))  # nothing lost
    first_late = seqs.index(7)
    assert seqs[first_late - 1] < 7 and max(seqs[:first_late]) < 7 <= seqs[first_late]
    items, _, _, _ = _run([{"type": "disconnect", "start_s": 4, "end_s": 8, "buffer": False}], seconds=12)
    seqs = _seqs(items, "ecg")
    assert len(seqs) < 24 and 7 not in seqs


def test_clock_drift_and_jitter_skew_timestamps() -> None:
    clean, _, _, t_clean = _run([], seconds=10)
    drift, _, _, t_drift = _run([{"type": "clock_drift", "ppm": 50_000}], seconds=10)
    d = np.array([(b.t0_us - t_drift) - (a.t0_us - t_clean) for a, b in zip(_ecg(clean), _ecg(drift), strict=True)])
    assert d[0] == pytest.approx(0, abs=10) and d[-1] == pytest.approx(0.05 * 9.5e6, rel=0.02)
    jitter, _, _, t_jitter = _run([{"type": "clock_jitter", "ms": 20}], seconds=10)
    j = np.array([(b.t0_us - t_jitter) - (a.t0_us - t_clean) for a, b in zip(_ecg(clean), _ecg(jitter), strict=True)])
    assert 5_000 < j.std() < 40_000


def test_signal_faults_change_the_samples() -> None:
    items, _, _, _ = _run([
        {"type": "lead_off", "start_s": 2, "end_s": 4, "streams": ["ecg"]},
        {"type": "flat_line", "start_s": 6, "end_s": 8, "streams": ["ecg"]},
        {"type": "saturation", "limit": 0.2, "start_s": 10, "end_s": 12, "streams": ["ecg"]},
        {"type": "motion_artifact", "amplitude": 2.0, "start_s": 14, "end_s": 16, "streams": ["ecg"]},
    ])
    ecg = {f.seq: f.values()[:, 0] for f in _ecg(items)}
    assert ecg[5].min() > 25  # railed
    assert np.all(ecg[13] == 0)  # flat
    assert np.abs(ecg[21]).max() <= 0.2 + 1e-3 and np.any(np.isclose(np.abs(ecg[21]), 0.2, atol=1e-3))
    assert np.abs(ecg[29]).max() > 1.5 * np.abs(ecg[37]).max()  # artifact vs clean
    acc = [i for i in items if i.stream == "acc" and i.seq == 5]
    assert isinstance(acc[0], Frame) and acc[0].values()[:, 2].max() < 10  # other streams untouched


def test_battery_drain_reports_status_then_silences_the_device() -> None:
    items, _, truth, _ = _run([{"type": "battery_drain", "minutes_to_empty": 0.5}], seconds=60)
    status = [i for i in items if isinstance(i, Reading) and i.stream == "status"]
    levels = [s.values["battery_pct"] for s in status]
    assert levels[0] > levels[1] > 0 and levels == sorted(levels, reverse=True)
    ecg = _ecg(items)
    assert 55 <= len(ecg) <= 60  # 30 s of 0.5 s frames, then nothing
    assert any(e.kind == "device" and e.label == "battery_drain" for e in truth)


def test_same_seed_same_live_signals() -> None:
    a, _, truth_a, start_a = _run([], seconds=8, devices=["emotion_band", "motion", "vitals"])
    b, _, truth_b, start_b = _run([], seconds=8, devices=["emotion_band", "motion", "vitals"])
    frames_a = [f for f in a if isinstance(f, Frame)]
    frames_b = [f for f in b if isinstance(f, Frame)]
    assert len(frames_a) == len(frames_b) > 20
    for fa, fb in zip(frames_a, frames_b, strict=True):
        assert (fa.stream, fa.seq, fa.t0_us - start_a) == (fb.stream, fb.seq, fb.t0_us - start_b)
        np.testing.assert_array_equal(fa.samples, fb.samples)
    rel_a = [(e.kind, e.label, e.t_us - start_a) for e in truth_a]
    assert rel_a == [(e.kind, e.label, e.t_us - start_b) for e in truth_b]
