"""Dataset mode: the API the training pipeline relies on, determinism, subject-wise splits, files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from firmware_sim.dataset import Annotation, Recording, generate, read_dataset, split_subjects, write_dataset
from iomt_app.cli import main


@pytest.mark.parametrize(
    ("kind", "streams"),
    [("ecg", {"ecg": 1}), ("motion", {"acc": 3, "gyro": 3}), ("emotion", {"ecg": 1, "eda": 1, "ppg": 1, "resp": 1})],
)
def test_recordings_have_the_promised_shape(kind: str, streams: dict[str, int]) -> None:
    recs = list(generate(kind, 2, 30.0, seed=4))
    assert [r.subject for r in recs] == ["s0000", "s0001"]
    for rec in recs:
        assert rec.kind == kind
        assert {k: v.shape[1] for k, v in rec.signals.items()} == streams
        for stream, signal in rec.signals.items():
            assert signal.dtype == np.float32
            assert signal.shape[0] == round(30.0 * rec.rates[stream])
            assert np.isfinite(signal).all()
        assert rec.truth and all(0 <= a.t_s <= a.t_end_s <= 30.0 for a in rec.truth)
        assert "resting_hr" in rec.persona and "age" in rec.persona


def test_same_seed_same_signals_and_subjects_do_not_depend_on_the_count() -> None:
    a = list(generate("ecg", 3, 20.0, seed=11))
    b = list(generate("ecg", 2, 20.0, seed=11))
    c = list(generate("ecg", 1, 20.0, seed=12))
    np.testing.assert_array_equal(a[1].signals["ecg"], b[1].signals["ecg"])
    assert a[1].truth == b[1].truth
    assert not np.array_equal(a[0].signals["ecg"], c[0].signals["ecg"])
    m1, m2 = next(generate("motion", 1, 60.0, seed=3)), next(generate("motion", 1, 60.0, seed=3))
    np.testing.assert_array_equal(m1.signals["acc"], m2.signals["acc"])
    e1, e2 = next(generate("emotion", 1, 60.0, seed=3)), next(generate("emotion", 1, 60.0, seed=3))
    np.testing.assert_array_equal(e1.signals["eda"], e2.signals["eda"])


def test_rate_override() -> None:
    rec = next(generate("ecg", 1, 10.0, seed=0, rate_hz=360.0))
    assert rec.rates == {"ecg": 360.0} and rec.signals["ecg"].shape == (3600, 1)
    mot = next(generate("motion", 1, 10.0, seed=0, rate_hz=100.0))
    assert mot.rates == {"acc": 100.0, "gyro": 100.0} and mot.signals["gyro"].shape == (1000, 3)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="kind"):
        next(generate("eeg", 1, 10.0, seed=0))
    with pytest.raises(ValueError, match="fractions"):
        split_subjects(["a", "b"], 0, (0.5, 0.5, 0.5))


def test_split_is_by_subject_disjoint_complete_and_deterministic() -> None:
    subjects = [f"s{i:04d}" for i in range(20)] + ["s0003", "s0003"]  # windows repeat subjects
    split = split_subjects(subjects, seed=5)
    assert split == split_subjects(subjects, seed=5)
    assert set(split) == {"train", "val", "test"}
    together = split["train"] + split["val"] + split["test"]
    assert sorted(together) == sorted(set(subjects))
    assert len(split["train"]) == 14 and len(split["val"]) == 3 and len(split["test"]) == 3
    assert split != split_subjects(subjects, seed=6)
    small = split_subjects(["a", "b", "c"], seed=0)
    assert all(len(v) == 1 for v in small.values())


def test_write_and_read_back(tmp_path: Path) -> None:
    recs = list(generate("emotion", 2, 20.0, seed=1))
    index = write_dataset(tmp_path / "ds", recs)
    assert index == tmp_path / "ds" / "index.json"
    back = list(read_dataset(tmp_path / "ds"))
    assert [r.subject for r in back] == ["s0000", "s0001"]
    for orig, got in zip(recs, back, strict=True):
        assert isinstance(got, Recording)
        assert got.rates == orig.rates and got.persona == orig.persona and got.truth == orig.truth
        assert all(isinstance(a, Annotation) for a in got.truth)
        for k in orig.signals:
            np.testing.assert_array_equal(got.signals[k], orig.signals[k])


def test_unreadable_dataset_names_the_index(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"index\.json"):
        list(read_dataset(tmp_path))


def test_cli_writes_a_dataset(tmp_path: Path) -> None:
    out = tmp_path / "motion"
    code = main(["sim", "dataset", "--kind", "motion", "--subjects", "2", "--seconds", "40", "--seed", "7",
                 "--out", str(out)])
    assert code == 0
    recs = list(read_dataset(out))
    assert len(recs) == 2 and recs[0].signals["acc"].shape == (2000, 3)
    expected = list(generate("motion", 2, 40.0, 7))[1]
    np.testing.assert_array_equal(recs[1].signals["acc"], expected.signals["acc"])
