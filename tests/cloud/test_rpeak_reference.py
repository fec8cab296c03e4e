"""The R-peak validation's reference rules: EC57 counting at the record's ends, the peers' majority,
and a consensus the peers do not agree with being reported, not held to the floor (pure logic: the
peers and the detector are replaced by arrays the tests choose)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cloud.real_ecg import rpeaks
from cloud.real_ecg.peers import MIN_AGREE, PEERS, RELIABLE, agreeing, consensus, reliable
from cloud.real_ecg.records import AAMI, RealRecord
from cloud.real_ecg.rpeaks import FLOOR, score, validate

FS = 200.0
N = 200 * 30
BEATS = np.arange(200, N - 200, 160)  # every 0.8 s, the first exactly 1 s (the edge) in


def test_the_majority_is_of_nine_peers() -> None:
    assert len(PEERS) == 9 and MIN_AGREE == 5
    four = {name: np.array([1000]) for name in PEERS[:4]}
    five = {name: np.array([1000 + i]) for i, name in enumerate(PEERS[:5])}
    assert consensus(four, FS).size == 0
    np.testing.assert_array_equal(consensus(five, FS), [1002])


def test_a_beat_at_the_edge_found_just_outside_it_counts_as_found() -> None:
    ref = np.array([200, 360, 520])
    found = np.array([197, 361, 520, 100])  # 197: 3 samples before the edge (200); 100: outside, unmatched
    m = score(ref, found, 0.15 * FS, lo=200, hi=N - 200)
    assert (m.matched, m.missed, m.extra) == (3, 0, 0)
    # the old rule (both cut at the edge first) missed the first beat
    assert rpeaks.match(ref[ref >= 200], found[found >= 200], 0.15 * FS).missed == 1


def test_an_unmatched_detection_inside_is_extra_and_a_reference_beat_outside_is_not_required() -> None:
    ref = np.array([100, 400, 700])  # 100 is outside the edge: not required
    found = np.array([401, 550, 701])  # 550 matches nothing
    m = score(ref, found, 0.15 * FS, lo=200, hi=N - 200)
    assert (m.matched, m.missed, m.extra) == (2, 0, 1)


def test_reliable_needs_a_majority_of_peers_at_the_level() -> None:
    good, bad = (1.0, RELIABLE), (RELIABLE - 0.01, 1.0)
    scores = {name: good if i < MIN_AGREE else bad for i, name in enumerate(PEERS)}
    assert agreeing(scores) == list(PEERS[:MIN_AGREE])
    assert reliable(scores)
    scores[PEERS[0]] = bad
    assert not reliable(scores)


def test_wfdb_non_beat_marks_are_not_reference_beats() -> None:
    for mark in "|~+\"[]!x()":  # artefact, noise, rhythm, comment, flutter, non-conducted P, waves
        assert mark not in AAMI
    assert set("NLRejAaJSVEF/fQ") <= set(AAMI)


def _patch(monkeypatch: pytest.MonkeyPatch, peers: dict[str, dict[str, np.ndarray]],
           ours: dict[str, np.ndarray]) -> None:
    monkeypatch.setattr(rpeaks, "peer_peaks", lambda x, fs: peers[str(int(x[0]))])
    monkeypatch.setattr(rpeaks, "detect", lambda x, fs: ours[str(int(x[0]))])
    # the canned records are flat lines, which the edge's quality check refuses; the gate has its own
    # tests (test_rpeak_edge_gate.py), here every canned detection is edge output
    monkeypatch.setattr(rpeaks, "edge_emits", lambda x, fs, found: np.ones(np.size(found), dtype=bool))


def _rec(tag: int) -> RealRecord:
    x = np.zeros(N)
    x[0] = tag  # which canned peers and detections belong to this record
    return RealRecord(f"t/{tag}", "t", FS, "II", x, "rpeak")


def test_a_consensus_the_peers_disagree_with_is_listed_with_the_reason_not_held_to_the_floor(
        monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    agreed = {name: BEATS for name in PEERS}
    # every peer finds the beats plus its own random extras: they agree on the beats, not with each other
    scattered = {name: np.sort(np.r_[BEATS, rng.integers(300, N - 300, BEATS.size)]) for name in PEERS}
    _patch(monkeypatch, {"1": agreed, "2": scattered},
           {"1": BEATS, "2": BEATS[::2]})
    report = validate([_rec(1), _rec(2)], cache=None)
    one, two = report["records"]
    assert one["floor"] == "held" and one["excluded_because"] is None and len(one["agreeing_peers"]) == 9
    assert two["floor"] == "excluded" and "0 of 9 peers" in two["excluded_because"]
    assert two["sensitivity"] < FLOOR  # its figures are still reported
    assert report["excluded"] == [{"record": "t/2", "reason": two["excluded_because"]}]
    assert report["all_pass"] and report["min_sensitivity"] == 1.0


def test_a_lead_below_the_floor_fails_the_report_and_the_command(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    agreed = {name: BEATS for name in PEERS}
    ours = np.sort(np.r_[BEATS, BEATS[:3] + 80])  # three extras between beats
    _patch(monkeypatch, {"1": agreed}, {"1": ours})
    report = validate([_rec(1)], cache=None)
    row = report["records"][0]
    assert (row["matched"], row["missed"], row["extra"]) == (BEATS.size, 0, 3)
    assert row["floor"] == "below" and not report["all_pass"]
    monkeypatch.setattr(rpeaks, "load_all", lambda dest: [_rec(1)])
    assert rpeaks.main(["--dest", str(tmp_path), "--report", str(tmp_path / "report")]) == 1
    table = (tmp_path / "report" / "rpeaks.md").read_text()
    assert "| t/1 | 200 |" in table and "**below**" in table


def test_two_consensus_beats_closer_than_the_refractory_period_are_one() -> None:
    """Five peers mark the R wave of a wide complex, five (some the same peers, with a second
    detection) its S wave 100 ms later: one beat, the better voted."""
    r_wave = {name: np.array([1000 + i]) for i, name in enumerate(PEERS[:6])}
    s_wave = {name: np.array([1020 + i]) for i, name in enumerate(PEERS[4:])}
    peaks = {name: np.sort(np.r_[r_wave.get(name, []), s_wave.get(name, [])]).astype(np.int64) for name in PEERS}
    np.testing.assert_array_equal(consensus(peaks, FS), [1002])  # 6 votes beat 5
    later = {name: np.r_[v, v + 60] for name, v in r_wave.items()}  # 300 ms apart: two beats
    np.testing.assert_array_equal(consensus(later, FS), [1002, 1062])


def test_the_release_evaluation_holds_only_leads_with_a_reference_to_the_floor(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from cloud.real_ecg.release_eval import rpeak_floors

    rng = np.random.default_rng(1)
    agreed = {name: BEATS for name in PEERS}
    scattered = {name: np.sort(np.r_[BEATS, rng.integers(300, N - 300, BEATS.size)]) for name in PEERS}
    _patch(monkeypatch, {"1": agreed, "2": scattered, "3": agreed},
           {"1": BEATS, "2": BEATS[::2], "3": BEATS[::2]})
    floors = rpeak_floors(validate([_rec(1), _rec(2), _rec(3)], cache=None))
    assert floors == {"R-peak sensitivity and PPV >= 99.5% on t/1": True,
                      "R-peak sensitivity and PPV >= 99.5% on t/3": False}
