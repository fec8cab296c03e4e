"""The augmented ECG dataset: subjects vary as real recordings do, every beat keeps its true class,
and no subject straddles two splits."""

from __future__ import annotations

import numpy as np

from cloud.data import DataProfile
from cloud.ecg_dataset import RATES_HZ, Augmentation, build, vary_lead
from firmware_sim.persona import make_persona
from models.preprocessing.beats import BEFORE, INPUT2, QRS_HALF


def test_a_small_dataset_is_split_by_subject_and_normalised() -> None:
    ds = build(DataProfile(subjects=12, seconds=30.0, seed=3), real=False)
    subjects = [s for split in ds.subjects.values() for s in split]
    assert len(subjects) == len(set(subjects)) == 12
    assert {s.split("-")[0] for s in subjects} == {f"r{int(r)}" for r in RATES_HZ}  # every rate used
    for split in ("train", "val", "test"):
        assert ds.x[split].shape[1:] == (INPUT2,) and len(ds.x[split]) == len(ds.y[split]) > 0
        peak = np.max(np.abs(ds.x[split][:, BEFORE - QRS_HALF : BEFORE + QRS_HALF + 1]), axis=1)
        assert np.all((peak > 0.99) & (peak < 1.01))  # each beat over its own QRS amplitude
    assert ds.card["real_data"] == {"used": False}
    assert sum(ds.card["class_counts"]["train"].values()) == len(ds.y["train"])


def test_augmentation_is_drawn_per_subject_and_reproducible() -> None:
    draws = [Augmentation.draw(np.random.default_rng(i), 500.0) for i in range(200)]
    assert {d.sign for d in draws} == {-1.0, 1.0}
    gains = np.array([d.gain for d in draws])
    assert gains.min() >= 0.25 and gains.max() <= 4.0 and gains.min() < 0.5 and gains.max() > 2.0
    x = np.sin(np.linspace(0, 20, 5000))
    a = Augmentation.draw(np.random.default_rng(7), 500.0)
    np.testing.assert_array_equal(a.apply(x, np.random.default_rng(1)), a.apply(x, np.random.default_rng(1)))


def test_lead_variation_changes_only_the_normal_beat_shape() -> None:
    base = make_persona(1, 2)
    varied = [vary_lead(base, np.random.default_rng(i)) for i in range(60)]
    assert all(0.15 <= p.r_amp <= 1.2 and 0.1 <= p.s_amp <= 1.5 and 0.8 <= p.v_amp <= 3.0 for p in varied)
    assert any(p.t_amp < 0 for p in varied) and any(p.t_amp > 0 for p in varied)
    assert all(p.resting_hr == base.resting_hr and p.p_v == base.p_v for p in varied)
