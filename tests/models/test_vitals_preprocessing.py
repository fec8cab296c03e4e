"""The vitals model's input (shared by training and the edge), the reading contract and the five risk
classes: literal arrays and the NEWS2 chart's boundaries."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iomt.wire.errors import DecodeError
from iomt.wire.vitals import ACVPU, FIELDS, VitalSigns, parse_vitals, vitals_row
from models.clinical import news2
from models.clinical.risk import RISK_CLASSES, Risk, observation, risk_of
from models.preprocessing import vitals as prep

NORMAL = [70.0, 97.0, 125.0, 75.0, 36.9, 15.0, 0.0, 0.0]


def readings(seconds: int, row: list[float] = NORMAL) -> tuple[np.ndarray, np.ndarray]:
    return np.arange(seconds, dtype=np.float64), np.tile(np.asarray(row, dtype=np.float64), (seconds, 1))


def test_constant_readings_give_their_scaled_values_in_every_step() -> None:
    t, v = readings(600)
    w = prep.window(t, v, 599.0)
    assert w is not None and w.shape == (prep.STEPS, prep.FEATURES) and w.dtype == np.float32
    expected = (np.asarray(NORMAL[:6]) - prep.CENTER) / prep.SCALE
    assert np.allclose(w[:, :6], expected, atol=1e-6) and (w[:, 6:] == 0).all()


def _reference_step_values(t_s: np.ndarray, values: np.ndarray, t_end: float) -> np.ndarray:
    """Step values one step at a time (the first implementation, kept as the reference)."""
    edges = t_end - prep.WINDOW_S + prep.STEP_S * np.arange(prep.STEPS + 1)
    bounds = np.searchsorted(t_s, edges, side="right")
    rows = []
    for k in range(prep.STEPS):
        block = values[bounds[k] : bounds[k + 1]]
        valid = ~np.isnan(block)
        count = valid.sum(axis=0)
        if len(block) == 0:
            rows.append(np.full(block.shape[1], np.nan))
            continue
        ordered = np.sort(np.where(valid, block, np.inf), axis=0)
        cols = np.arange(block.shape[1])
        med = 0.5 * (ordered[np.maximum((count - 1) // 2, 0), cols] + ordered[np.maximum(count // 2, 0), cols])
        rows.append(np.where(count > 0, med, np.nan))
    steps = np.stack(rows)
    for k in range(1, prep.STEPS):
        gap = np.isnan(steps[k])
        steps[k, gap] = steps[k - 1, gap]
    for k in range(prep.STEPS - 2, -1, -1):
        gap = np.isnan(steps[k, :6])
        steps[k, :6][gap] = steps[k + 1, :6][gap]
    return steps


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), rate=st.sampled_from([0.2, 1.0, 1 / 30, 3.0]),
       missing=st.floats(0.0, 0.9), cut=st.integers(0, 400))
def test_all_steps_at_once_give_the_reference_values_to_the_bit(seed: int, rate: float, missing: float,
                                                                  cut: int) -> None:
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(0, 400, int(400 * rate)))
    t = t[(t < cut) | (t > cut + 60)]  # a gap of a minute (or none, past the end)
    v = rng.normal(80, 20, (len(t), len(FIELDS))).round(1)
    v[rng.random(v.shape) < missing] = np.nan
    for t_end in (0.0, 45.0, 299.0, float(t[-1]) if len(t) else 10.0, 400.0):
        np.testing.assert_array_equal(prep.step_values(t, v, t_end), _reference_step_values(t, v, t_end))


def test_steps_are_medians_so_one_artefact_does_not_move_them() -> None:
    t, v = readings(300)
    v[295, 0] = 190.0  # one heart rate read off a run of ectopic beats
    steps = prep.step_values(t, v, 299.0)
    assert steps[-1, 0] == 70.0
    v[280:300, 0] = 120.0  # two thirds of the last step
    assert prep.step_values(t, v, 299.0)[-1, 0] == 120.0


def test_gaps_are_filled_from_the_step_before_and_leading_gaps_from_the_first_filled() -> None:
    t = np.array([100.0, 101.0, 250.0])
    v = np.array([[60.0, *NORMAL[1:]], [62.0, *NORMAL[1:]], [90.0, *NORMAL[1:]]])
    steps = prep.step_values(t, v, 299.0)  # window (-1, 299]: readings fall in steps 3 and 8
    assert steps[:, 0].tolist() == [61.0] * 8 + [90.0] * 2


def test_o2_and_acvpu_become_flags_and_default_to_air_and_alert() -> None:
    t, v = readings(300)
    v[:, 6] = np.nan  # no o2 sent
    v[:, 7] = np.nan  # no acvpu charted
    w = prep.window(t, v, 299.0)
    assert w is not None and (w[:, 6:] == 0).all()
    v[150:, 6] = 2.0
    v[200:, 7] = 1.0
    w = prep.window(t, v, 299.0)
    assert w is not None
    assert w[:, 6].tolist() == [0.0] * 5 + [1.0] * 5 and w[-1, 7] == 1.0 and w[0, 7] == 0.0


def test_a_window_without_one_of_the_six_vitals_is_not_scored() -> None:
    t, v = readings(300)
    v[:, FIELDS.index("temp_c")] = np.nan
    assert prep.window(t, v, 299.0) is None
    t, v = readings(300)
    assert prep.window(t, v, 10_000.0) is None  # no reading in the last five minutes


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 900), gap=st.integers(0, 400), seed=st.integers(0, 1000))
def test_many_windows_are_row_identical_to_single_ones(n: int, gap: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=np.float64)
    t[n // 2:] += gap  # a gap in the readings
    v = np.asarray(NORMAL) + rng.normal(0, 3, (n, 8))
    v[:, 6:] = rng.integers(0, 2, (n, 2))
    ends = np.arange(60.0, t[-1] + 61.0, 60.0)
    batch, kept = prep.windows(t, v, ends)
    singles = [(e, prep.window(t, v, e)) for e in ends]
    assert kept.tolist() == [e for e, w in singles if w is not None]
    for row, (_, w) in zip(batch, [s for s in singles if s[1] is not None], strict=True):
        assert np.array_equal(row, w)


def test_parse_vitals_types_the_values_and_names_a_bad_one() -> None:
    vs = parse_vitals({"hr": 88.0, "spo2": 94.0, "bp_sys": 101.0, "bp_dia": 60.0, "temp_c": 38.2,
                       "resp_rate": 23.0, "o2": 2.0, "acvpu": 1.0, "battery": 3.0})
    assert vs == VitalSigns(88.0, 94.0, 101.0, 60.0, 38.2, 23.0, 2.0, "C") and vs.on_oxygen is True
    assert parse_vitals({"o2": 0.0}).on_oxygen is False and parse_vitals({}).on_oxygen is None
    assert ACVPU[4] == "U"
    with pytest.raises(DecodeError, match=r"'acvpu' = 5\.0 is not a code 0-4"):
        parse_vitals({"acvpu": 5.0})
    with pytest.raises(DecodeError, match=r"'o2' = -1\.0 is outside"):
        parse_vitals({"o2": -1.0})


def test_vitals_row_is_the_reading_in_field_order_checked_like_parse_vitals() -> None:
    row = vitals_row({"acvpu": 2.0, "resp_rate": 19.0, "hr": 70.0, "battery": 3.0})
    assert row[:1] == [70.0] and row[5:6] == [19.0] and row[7] == 2.0
    assert [math.isnan(v) for v in row] == [False, True, True, True, True, False, True, False]
    for bad in ({"acvpu": float("nan")}, {"acvpu": 1.5}, {"spo2": 101.0}, {"temp_c": float("inf")}):
        with pytest.raises(DecodeError, match=f"'{next(iter(bad))}' = "):
            vitals_row(bad)


def _obs(**changes: float | str) -> news2.Observation | None:
    values: dict[str, float] = {"hr": 70, "spo2": 97, "bp_sys": 125, "bp_dia": 75, "temp_c": 36.9,
                                "resp_rate": 15, "o2": 0, "acvpu": 0}
    values.update({k: float(v) for k, v in changes.items()})
    return observation(parse_vitals(values))


@pytest.mark.parametrize(("changes", "risk"), [
    ({}, Risk.NONE),
    ({"hr": 95}, Risk.LOW),  # 1
    ({"hr": 95, "resp_rate": 22, "temp_c": 38.5}, Risk.LOW),  # 1 + 2 + 1 = 4
    ({"spo2": 91}, Risk.LOW_MEDIUM),  # a single 3
    ({"acvpu": 1}, Risk.LOW_MEDIUM),  # new confusion alone
    ({"spo2": 91, "hr": 95}, Risk.LOW_MEDIUM),  # 4 with a red score
    ({"resp_rate": 22, "hr": 95, "temp_c": 38.5, "bp_sys": 105}, Risk.MEDIUM),  # 5
    ({"o2": 2, "spo2": 95, "resp_rate": 22}, Risk.MEDIUM),  # 2 + 1 + 2 = 5
    ({"resp_rate": 25, "hr": 115, "bp_sys": 100}, Risk.HIGH),  # 3 + 2 + 2 = 7
])
def test_risk_classes_follow_the_rcp_response_bands(changes: dict[str, float], risk: Risk) -> None:
    obs = _obs(**changes)
    assert obs is not None and risk_of(news2.score(obs)) is risk
    assert RISK_CLASSES == ("none", "low", "low_medium", "medium", "high")


def test_observation_needs_every_scored_vital_and_assumes_air_and_alert_when_absent() -> None:
    assert observation(parse_vitals({"hr": 70, "spo2": 97, "bp_sys": 120, "temp_c": 37.0})) is None
    obs = observation(parse_vitals({"hr": 70, "spo2": 97, "bp_sys": 120, "temp_c": 37.0, "resp_rate": 14}))
    assert obs is not None and obs.on_oxygen is False and obs.consciousness is news2.Consciousness.ALERT
