"""Replay: a WFDB record written by ``wfdb`` (with annotations) and a CSV, published as a device
through a real mosquitto; unreadable recordings fail naming the file and line or field."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import wfdb

from firmware_sim.ecg import EcgStream
from firmware_sim.persona import make_persona
from firmware_sim.replay import ReplayError, load, resample
from firmware_sim.truth import decode_truth
from iomt.config import MqttConfig
from iomt.transport import ReceivedMessage
from iomt.transport.mqtt import MqttBus
from iomt.wire import topics
from iomt.wire.descriptor import decode_descriptor
from iomt.wire.frames import Frame, decode_payload
from iomt_app.cli import main

SYMBOL = {"N": "N", "S": "A", "V": "V", "F": "F", "Q": "/"}


def _write_record(directory: Path, seconds: float = 12.0, fs: float = 360.0) -> tuple[Path, np.ndarray, list[str]]:
    stream = EcgStream(make_persona(5, 2, condition="pvc"), fs, np.random.default_rng(2))
    signal = stream.render(int(seconds * fs))
    beats = stream.take_beats(seconds - 0.1)
    samples = [round(t * fs) for t, _ in beats]
    symbols = [SYMBOL[lab] for _, lab in beats]
    rhythm_at = [0, int(6 * fs), int(9 * fs)]
    order = np.argsort(np.array(samples + rhythm_at), kind="stable")
    all_samples = np.array(samples + rhythm_at)[order]
    all_symbols = np.array([*symbols, "+", "+", "+"])[order].tolist()
    aux = np.array([""] * len(samples) + ["(N", "(AFIB", "(N"], dtype=object)[order].tolist()
    wfdb.wrsamp("rec100", fs=fs, units=["mV"], sig_name=["MLII"], p_signal=signal[:, None], fmt=["16"],
                write_dir=str(directory))
    wfdb.wrann("rec100", "atr", all_samples, symbol=all_symbols, aux_note=aux, write_dir=str(directory))
    return directory / "rec100", signal, [lab for _, lab in beats]


def test_load_maps_annotations_to_aami_and_rhythm_episodes(tmp_path: Path) -> None:
    path, signal, labels = _write_record(tmp_path)
    loaded = load(path.with_suffix(".hea"), "ecg")
    assert loaded.rates == {"ecg": 360.0}
    np.testing.assert_allclose(loaded.signals["ecg"][:, 0], signal, atol=0.01)
    beats = [a for a in loaded.truth if a.kind == "beat"]
    assert [a.label for a in beats] == labels and "V" in labels
    assert [(a.label, a.t_s, a.t_end_s) for a in loaded.truth if a.kind == "rhythm"] == [("AF", 6.0, 9.0)]


def test_replay_publishes_the_record_with_its_annotations_as_truth(tmp_path: Path, mqtt_config: MqttConfig) -> None:
    path, signal, labels = _write_record(tmp_path)
    received: list[ReceivedMessage] = []
    lock = threading.Lock()

    def keep(msg: ReceivedMessage) -> None:
        with lock:
            received.append(msg)

    listener = MqttBus(mqtt_config, client_id="replay-listener").start()
    try:
        listener.subscribe("iomt/v1/replay-site/#", keep)
        time.sleep(0.3)
        started = time.monotonic()
        code = main(["replay", str(path), "--kind", "ecg", "--broker", mqtt_config.url, "--site", "replay-site",
                     "--device", "bed-7", "--speed", "6", "--truth", str(tmp_path / "truth.jsonl"),
                     "--report", str(tmp_path / "report.json")])
        elapsed = time.monotonic() - started
        assert code == 0
        report = json.loads((tmp_path / "report.json").read_text())
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and sum("/truth/" not in m.topic for m in received) < report["published"]:
            time.sleep(0.05)
        time.sleep(0.3)
    finally:
        listener.stop()
    assert 1.5 < elapsed < 6  # 12 s of signal paced at 6x
    frames = sorted((decode_payload(m.payload) for m in received if "/truth/" not in m.topic), key=lambda f: f.seq)
    assert all(isinstance(f, Frame) and f.device == "bed-7" and f.sample_rate == 250.0 for f in frames)
    assert [f.seq for f in frames] == list(range(24)) == list(range(report["streams"]["bed-7/ecg"]))
    replayed = np.concatenate([f.values()[:, 0] for f in frames if isinstance(f, Frame)])
    expected = resample(signal[:, None], 360.0, 250.0)[:, 0][: len(replayed)]
    assert np.corrcoef(replayed, expected)[0, 1] > 0.99
    truth = [e for m in received if topics.parse_topic(m.topic).kind is topics.TopicKind.TRUTH
             for e in decode_truth(m.payload)]
    beats = sorted((e for e in truth if e.kind == "beat"), key=lambda e: e.t_us)
    assert [e.label for e in beats] == labels
    rhythm = [e for e in truth if e.kind == "rhythm"]
    assert len(rhythm) == 1 and rhythm[0].label == "AF"
    assert (rhythm[0].t_end_us - rhythm[0].t_us) == pytest.approx(3_000_000, abs=10)
    first = frames[0]
    assert isinstance(first, Frame)
    annotated = [a.t_s for a in load(path, "ecg").truth if a.kind == "beat"]
    offsets = np.array([e.t_us - first.t0_us for e in beats]) / 1e6
    np.testing.assert_allclose(offsets, annotated, atol=1e-5)  # truth times line up with the samples
    assert len((tmp_path / "truth.jsonl").read_text().splitlines()) == len(truth)


def test_csv_replay_motion_with_labels(tmp_path: Path) -> None:
    rows = ["t,acc_x,acc_y,acc_z,gyro_x,gyro_y,gyro_z,label"]
    for i in range(200):
        label = "fall_forward" if i == 120 else ""
        rows.append(f"{i / 100:.2f},0.0,0.0,1.0,0.5,0.0,0.0,{label}")
    path = tmp_path / "walk.csv"
    path.write_text("\n".join(rows) + "\n")
    loaded = load(path, "motion", acc_unit="g", gyro_unit="deg/s")
    assert loaded.rates == {"acc": 100.0, "gyro": 100.0}
    assert loaded.signals["acc"].shape == (200, 3) and loaded.signals["gyro"].shape == (200, 3)
    assert [(a.label, a.t_s) for a in loaded.truth] == [("fall_forward", 1.2)]
    assert resample(loaded.signals["acc"], 100.0, 50.0).shape == (100, 3)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("t,ecg\n0,0.1\n0.004,abc\n", "line 3: ecg: 'abc' is not a number"),
        ("t,ecg\n0,0.1\n0.004\n", "line 3: 1 fields, the header has 2"),
        ("ecg\n0.1\n0.2\n", "line 1: no time column"),
        ("t,ecg\n0,0.1\n0,0.2\n", "line 3: t: time does not increase"),
        ("", "line 1: empty file"),
    ],
)
def test_unreadable_csv_names_the_line_and_field(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(ReplayError) as err:
        load(path, "ecg")
    assert str(path) in str(err.value) and expected in str(err.value)


def test_unreadable_wfdb_fails_clearly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ReplayError, match="no such WFDB record"):
        load(tmp_path / "nothing", "ecg")
    (tmp_path / "broken.hea").write_text("broken 1 360 nonsense\nthis is not a header\n")
    with pytest.raises(ReplayError, match=r"broken"):
        load(tmp_path / "broken.hea", "ecg")
    assert main(["replay", str(tmp_path / "nothing"), "--kind", "ecg", "--broker", "mqtt://127.0.0.1:1"]) == 2
    assert "no such WFDB record" in capsys.readouterr().err
    path, _, _ = _write_record(tmp_path)
    with pytest.raises(ReplayError, match="channel: no channel 'V5'"):
        load(path, "ecg", channel="V5")


def test_motion_csv_units_from_the_header_or_the_options(tmp_path: Path) -> None:
    """Units are converted where the data enters: header units in brackets, or the caller's options;
    a contradiction between the two is refused."""
    import math

    rows = "t,acc_x[m/s2],acc_y[m/s2],acc_z[m/s2],gyro_x[rad/s],gyro_y[rad/s],gyro_z[rad/s]\n"
    rows += "".join(f"{i / 50:.2f},0,0,9.80665,0,0,1\n" for i in range(50))
    (tmp_path / "si.csv").write_text(rows)
    loaded = load(tmp_path / "si.csv", "motion")
    assert np.allclose(loaded.signals["acc"][0], [0, 0, 1])
    assert np.allclose(loaded.signals["gyro"][0], [0, 0, 180 / math.pi])
    with pytest.raises(ReplayError, match="states 'm/s2' but 'g' was given"):
        load(tmp_path / "si.csv", "motion", acc_unit="g")
    plain = "t,acc_x,acc_y,acc_z,gyro_x,gyro_y,gyro_z\n" + "".join(f"{i / 50:.2f},0,0,1000,0,0,1\n" for i in range(50))
    (tmp_path / "plain.csv").write_text(plain)
    as_mg = load(tmp_path / "plain.csv", "motion", acc_unit="mg", gyro_unit="rad/s")
    assert np.allclose(as_mg.signals["acc"][0], [0, 0, 1]) and np.allclose(as_mg.signals["gyro"][0, 2], 180 / math.pi)
    with pytest.raises(ReplayError, match="states no unit; say which with --acc-unit"):
        load(tmp_path / "plain.csv", "motion")  # never assumed
    with pytest.raises(ReplayError, match="states no unit; say which with --gyro-unit"):
        load(tmp_path / "plain.csv", "motion", acc_unit="mg")
    with pytest.raises(ReplayError, match="unit 'furlong' is not one of"):
        load(tmp_path / "plain.csv", "motion", acc_unit="furlong")


def test_motion_wfdb_units_come_from_its_header(tmp_path: Path) -> None:
    import wfdb

    sig = np.tile([0.0, 0.0, 9.80665, 0.0, 0.0, 2.0], (100, 1))
    wfdb.wrsamp("imu", fs=100, units=["m/s^2"] * 3 + ["rad/s"] * 3, p_signal=sig, fmt=["32"] * 6,
                sig_name=["acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"], write_dir=str(tmp_path))
    loaded = load(tmp_path / "imu.hea", "motion")
    assert np.allclose(loaded.signals["acc"][:, 2], 1.0, atol=1e-3)
    assert np.allclose(loaded.signals["gyro"][:, 2], np.degrees(2.0), atol=1e-2)


def _is_data(topic: str) -> bool:
    return topics.parse_topic(topic).kind is topics.TopicKind.DATA


def test_iomt_replay_converts_motion_units_at_the_systems_edge(tmp_path: Path, mqtt_config: MqttConfig,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """A phone's recording in m/s^2 and rad/s without units in its header: ``iomt replay`` refuses to
    guess, and with ``--acc-unit m/s2 --gyro-unit rad/s`` publishes g and deg/s on the wire."""
    import math

    rows = "t,acc_x,acc_y,acc_z,gyro_x,gyro_y,gyro_z\n"
    rows += "".join(f"{i / 50:.2f},0,4.903325,9.80665,0,0.5,0\n" for i in range(100))
    path = tmp_path / "phone.csv"
    path.write_text(rows)
    common = ["--kind", "motion", "--broker", mqtt_config.url, "--site", "units-site", "--device", "phone-1",
              "--fast"]
    assert main(["replay", str(path), *common]) == 2
    assert "states no unit; say which with --acc-unit" in capsys.readouterr().err
    received: list[ReceivedMessage] = []
    lock = threading.Lock()

    def keep(msg: ReceivedMessage) -> None:
        with lock:
            received.append(msg)

    listener = MqttBus(mqtt_config, client_id="units-listener").start()
    try:
        listener.subscribe("iomt/v1/units-site/#", keep)
        time.sleep(0.3)
        assert main(["replay", str(path), *common, "--acc-unit", "m/s2", "--gyro-unit", "rad/s",
                     "--report", str(tmp_path / "r.json")]) == 0
        published = json.loads((tmp_path / "r.json").read_text())["published"]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and sum(_is_data(m.topic) for m in received) < published:
            time.sleep(0.05)
    finally:
        listener.stop()
    frames = [f for m in received if _is_data(m.topic) for f in [decode_payload(m.payload)] if isinstance(f, Frame)]
    own = topics.descriptor("units-site", "phone-1")
    [declared] = [decode_descriptor(m.payload) for m in received if m.topic == own]
    assert declared.motion is not None and declared.placement == "unknown"  # none given: declared unknown
    assert (declared.motion.acc_unit, declared.motion.gyro_unit) == ("g", "deg/s")  # what the wire now carries
    acc = np.concatenate([f.values() for f in frames if f.stream == "acc"])
    gyro = np.concatenate([f.values() for f in frames if f.stream == "gyro"])
    assert len(acc) >= 50 and len(gyro) >= 50
    np.testing.assert_allclose(acc.mean(axis=0), [0, 0.5, 1.0], atol=2e-3)  # g
    np.testing.assert_allclose(gyro.mean(axis=0), [0, math.degrees(0.5), 0], atol=0.1)  # deg/s


def _replayed_values(path: Path, kind: str, stream: str) -> tuple[np.ndarray, np.ndarray, list[Frame]]:
    """What a replay of ``path`` puts on the wire for ``stream``: the decoded frames' values, the
    signal they came from (resampled to the device rate) and the frames."""
    from firmware_sim.replay import DEVICE_RATES, ReplayDevice

    loaded = load(path, kind)
    device = ReplayDevice("ppg-1", loaded, np.random.default_rng(0), frame_s=1.0)
    device.bind(1_764_000_000_000_000, 0.0)
    source = next(s for s in device.sources if s.stream == stream)
    frames = []
    for seq in range(device.frames):
        frame = decode_payload(source.render(seq, device.t_us(seq * source.frame_s)))
        assert isinstance(frame, Frame)
        frames.append(frame)
    values = np.concatenate([f.values()[:, 0] for f in frames])
    expected = resample(loaded.signals[stream], loaded.rates[stream], DEVICE_RATES[stream])[: len(values), 0]
    return values, expected, frames


def _assert_no_clipping(values: np.ndarray, expected: np.ndarray, frames: list[Frame]) -> None:
    for f in frames:  # no sample at an int16 rail: nothing was clipped
        assert np.abs(f.samples.astype(np.int32)).max() < 32767
    step = max(f.scale for f in frames)
    np.testing.assert_allclose(values, expected, atol=step * 0.5 + 1e-4 * np.abs(expected).max())


def test_replayed_ppg_in_adc_counts_reaches_the_wire_unclipped(tmp_path: Path) -> None:
    """A PPG in raw ADC counts (hundreds to tens of thousands of units, offset and all) is sent at a
    scale chosen per frame from the data, not at 0.001 a count (which clipped it at +-32.767)."""
    rng = np.random.default_rng(3)
    t = np.arange(0.0, 30.0, 0.01)
    pulse = np.maximum(np.sin(2 * np.pi * 1.2 * t), 0.0) ** 3
    for name, offset, amplitude in (("adc10", 512.0, 180.0), ("adc16", 30000.0, 9000.0), ("small", 0.0, 0.004)):
        ppg = offset + amplitude * pulse + amplitude * 0.02 * rng.standard_normal(t.size)
        path = tmp_path / f"{name}.csv"
        path.write_text("t,ppg\n" + "\n".join(f"{a:.2f},{b:.6f}" for a, b in zip(t, ppg, strict=True)) + "\n")
        values, expected, frames = _replayed_values(path, "emotion", "ppg")
        _assert_no_clipping(values, expected, frames)
        assert np.ptp(values) > 0.8 * amplitude  # the pulse is there, at its own size


def test_real_ppg_from_heartpy_round_trips_through_replay_without_clipping(tmp_path: Path) -> None:
    """heartpy's real PPG (raw ADC, ~100 Hz; fetched by scripts/fetch_real_emotion.sh) through replay."""
    from cloud.real_emotion.sources import fetched_file

    raw = fetched_file("heartpy", "heartpy/data/data2.csv")
    if raw is None:
        pytest.skip("heartpy's PPG is not fetched: run scripts/fetch_real_emotion.sh")
    rows = raw.read_text().splitlines()[1:]
    timer_ms, counts = np.array([[float(v) for v in r.split(",")] for r in rows if r.strip()]).T
    path = tmp_path / "heartpy_data2.csv"
    path.write_text("t,ppg\n" + "\n".join(f"{a / 1000:.5f},{b:g}" for a, b in zip(timer_ms, counts, strict=True)))
    values, expected, frames = _replayed_values(path, "emotion", "ppg")
    assert counts.max() > 32.767  # real counts: the old 0.001 scale would have clipped every sample
    _assert_no_clipping(values, expected, frames)
