"""The edge's emotion pipeline on a simulated band's own frames (int16 on the wire, as it sends them):
its windows are the training path's to the bit, the wearer's baseline carried through them; a band
without PPG, or with a clipped one, or whose PPG stops, says "emotion not analysed" once (not every
window, not never) and its windows are not run; when it recovers it says so once."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pytest

from edge.emotion_pipeline import EmotionPipeline
from edge.events import EventFactory
from edge.pipeline import Window
from firmware_sim.devices import EmotionBand
from firmware_sim.persona import make_persona
from iomt.wire.events import Event, EventKind
from iomt.wire.frames import Frame, decode_frame, encode_frame, make_frame
from models.preprocessing import emotion

T0_US = 1_764_000_000_000_000
#: EDA first: the pipeline ignores ECG from a device it has not seen send EDA or PPG (an ECG patch is
#: not a band), so a band's first ECG frame, sent before its first EDA frame, would be dropped
STREAMS = ("eda", "ppg", "ecg")
#: (seconds since the start, stream, frame) -> the frame to feed, or None to drop it
Edit = Callable[[int, str, Frame], Frame | None]


def band_frames(seconds: int, seed: int = 3) -> Iterator[tuple[int, Frame]]:
    """One-second frames of a simulated band's ECG, EDA and PPG, as decoded at the edge."""
    band = EmotionBand("band-1", make_persona(31, seed), np.random.default_rng(seed), cycle_s=600.0)
    band.bind(T0_US, 0.0)
    sources = {s.stream: s for s in band.sources if s.stream in STREAMS}
    for k in range(seconds):
        for stream in STREAMS:
            yield k, decode_frame(sources[stream].render(k, band.t_us(float(k))))


def run(seconds: int, edit: Edit | None = None) -> tuple[list[Window], list[Event], dict[str, list[np.ndarray]]]:
    pipeline = EmotionPipeline(EventFactory("s", "n"))
    windows: list[Window] = []
    events: list[Event] = []
    fed: dict[str, list[np.ndarray]] = {s: [] for s in STREAMS}
    for k, frame in band_frames(seconds):
        sent = edit(k, frame.stream, frame) if edit else frame
        if sent is None:
            continue
        fed[frame.stream].append(sent.values()[:, 0])
        events += pipeline.on_frame(sent, k)
        got, cut = pipeline.ready()
        windows += got
        events += cut
    return windows, events, fed


def verdicts(events: list[Event]) -> list[tuple[str, str]]:
    return [(e.label, e.detail["message"]) for e in events if e.kind == EventKind.QUALITY and e.model == "emotion"]


def test_edge_windows_are_the_training_windows_with_the_baseline_carried() -> None:
    windows, events, fed = run(150)
    assert verdicts(events) == []  # a clean band: nothing to say
    ends = [(w.end_us - T0_US) / 1e6 for w in windows]
    assert ends == pytest.approx([59.75 + 15 * i for i in range(7)])  # the EDA's last sample (4 Hz) ends each
    signals = {s: np.concatenate(v).astype(np.float64) for s, v in fed.items()}
    rates = {"ecg": 250.0, "eda": 4.0, "ppg": 64.0}
    train, starts = emotion.emotion_windows(signals, rates)
    assert len(starts) == len(windows)
    for w, x in zip(windows, train, strict=True):
        np.testing.assert_array_equal(w.x, x)
    assert np.any(train[1:] != train[0])


def test_a_band_without_ppg_says_so_once_and_runs_nothing() -> None:
    windows, events, _ = run(240, lambda k, stream, f: None if stream == "ppg" else f)
    assert windows == []
    assert verdicts(events) == [("no_ppg", "emotion not analysed: no PPG")]
    [event] = [e for e in events if e.model == "emotion"]
    assert event.detail == {"message": "emotion not analysed: no PPG", "channel": "ppg", "problem": "missing"}
    assert event.window_end_us - T0_US == pytest.approx(59e6, abs=1e6)  # as soon as a window of the rest is in


def test_a_ppg_that_starts_late_ends_the_verdict_once() -> None:
    windows, events, _ = run(240, lambda k, stream, f: None if stream == "ppg" and k < 90 else f)
    assert verdicts(events) == [("no_ppg", "emotion not analysed: no PPG"), ("analysed", "emotion analysed again")]
    assert windows and all(w.start_us - T0_US >= 88.9e6 for w in windows)  # only windows the PPG covers (to a frame)


def test_a_ppg_that_stops_is_missed_within_a_window_and_said_once() -> None:
    windows, events, _ = run(300, lambda k, stream, f: None if stream == "ppg" and k >= 120 else f)
    said = [e for e in events if e.model == "emotion"]
    assert verdicts(said) == [("no_ppg", "emotion not analysed: no PPG")]
    assert 120e6 <= said[0].window_end_us - T0_US <= 195e6
    assert all(w.end_us - T0_US <= 180e6 for w in windows)


def test_a_ppg_clipped_by_a_1_0_wire_is_not_run() -> None:
    """A band on the 1.0.0 firmware sent its PPG in ADC counts at 0.001 a count: clipped at +-32.767."""

    def old_firmware(k: int, stream: str, f: Frame) -> Frame:
        if stream != "ppg":
            return f
        counts = np.clip(np.rint((28.0 + 8.0 * f.values()) / 0.001), -32768, 32767).astype(np.int16)
        return decode_frame(encode_frame(make_frame(f.device, f.stream, f.seq, f.t0_us, f.sample_rate, counts, 0.001)))

    windows, events, _ = run(150, old_firmware)
    assert windows == []
    assert verdicts(events) == [("ppg_clipped", "emotion not analysed: PPG clipped")]


def test_a_sequence_gap_is_not_a_missing_channel() -> None:
    """Frames lost on the way clear a stream's buffer; it refills, and the band is not 'missing' it."""
    from edge.emotion_gate import Verdicts

    pipeline = EmotionPipeline(EventFactory("s", "n"))
    events: list[Event] = []
    ends: list[float] = []
    for k, frame in band_frames(200):
        if frame.stream == "ppg" and k == 100:
            pipeline.on_gap("band-1", "ppg")
        events += pipeline.on_frame(frame, k)
        got, cut = pipeline.ready()
        ends += [(w.end_us - T0_US) / 1e6 for w in got]
        events += cut
    assert verdicts(events) == []
    assert ends == pytest.approx([59.75, 74.75, 89.75, 159.75, 174.75, 189.75], abs=1.0)  # a window after the refill
    assert Verdicts().update(None) == (False, None)  # nothing was wrong: nothing to take back


def test_a_node_running_emotion_publishes_not_analysed_as_the_wire_carries_it() -> None:
    """Through the node's processor (config ``models = ["emotion"]``): the band's frames as bytes in, the
    verdict out among the batch's events, encoded for the outbox and MQTT, and decoded as it was built."""
    from edge.config import EdgeConfig
    from edge.processor import EdgeProcessor
    from iomt.wire import topics
    from iomt.wire.events import Priority, decode_event

    processor = EdgeProcessor(EdgeConfig(models=("emotion",), node_id="edge-7"))  # type: ignore[arg-type]
    published = []
    for k, frame in band_frames(90):
        if frame.stream == "ppg":
            continue
        result = processor.handle_batch([(topics.data("default", frame.device, frame.stream), encode_frame(frame), k)])
        published += [decode_event(p) for p in result.event_payloads]
    [event] = [e for e in published if e.model == "emotion"]
    assert (event.kind, event.label, event.priority) == (EventKind.QUALITY, "no_ppg", Priority.MEDIUM)
    assert (event.site, event.node, event.device) == ("default", "edge-7", "band-1")
    assert event.detail["message"] == "emotion not analysed: no PPG" and event.model_version == emotion.RELATIVE_VERSION
    [pipeline] = processor.pipelines
    assert pipeline.windows == 0 and "emotion" not in processor.engine.stats  # nothing was run through the model
