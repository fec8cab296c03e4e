"""NEWS2 against the RCP 2017 chart: every row boundary of every parameter, both SpO2 scales,
the response bands, and bad input."""

from __future__ import annotations

import pytest

from models.clinical import news2
from models.clinical.news2 import Band, Consciousness, Observation, Parameter, SpO2Scale

# (value, score) at both sides of every boundary of the chart
RESPIRATION = [(0, 3), (8, 3), (9, 1), (11, 1), (12, 0), (20, 0), (21, 2), (24, 2), (25, 3), (60, 3)]
SPO2_SCALE1 = [(50, 3), (91, 3), (92, 2), (93, 2), (94, 1), (95, 1), (96, 0), (100, 0)]
SYSTOLIC = [(40, 3), (90, 3), (91, 2), (100, 2), (101, 1), (110, 1), (111, 0), (219, 0), (220, 3), (300, 3)]
PULSE = [(20, 3), (40, 3), (41, 1), (50, 1), (51, 0), (90, 0), (91, 1), (110, 1), (111, 2), (130, 2), (131, 3)]
TEMPERATURE = [(30.0, 3), (35.0, 3), (35.1, 1), (36.0, 1), (36.1, 0), (38.0, 0), (38.1, 1), (39.0, 1),
               (39.1, 2), (42.0, 2)]
# scale 2: (spo2, on oxygen, score)
SPO2_SCALE2 = [(83, False, 3), (84, False, 2), (85, True, 2), (86, False, 1), (87, True, 1), (88, True, 0),
               (92, True, 0), (93, False, 0), (99, False, 0), (93, True, 1), (94, True, 1), (95, True, 2),
               (96, True, 2), (97, True, 3), (100, True, 3)]


@pytest.mark.parametrize(("value", "expected"), RESPIRATION)
def test_respiration_rows(value: float, expected: int) -> None:
    assert news2.respiration_score(value) == expected


@pytest.mark.parametrize(("value", "expected"), SPO2_SCALE1)
def test_spo2_scale1_rows(value: float, expected: int) -> None:
    assert news2.spo2_scale1_score(value) == expected


@pytest.mark.parametrize(("value", "oxygen", "expected"), SPO2_SCALE2)
def test_spo2_scale2_rows(value: float, oxygen: bool, expected: int) -> None:
    assert news2.spo2_scale2_score(value, oxygen) == expected


@pytest.mark.parametrize(("value", "expected"), SYSTOLIC)
def test_systolic_rows(value: float, expected: int) -> None:
    assert news2.systolic_score(value) == expected


@pytest.mark.parametrize(("value", "expected"), PULSE)
def test_pulse_rows(value: float, expected: int) -> None:
    assert news2.pulse_score(value) == expected


@pytest.mark.parametrize(("value", "expected"), TEMPERATURE)
def test_temperature_rows(value: float, expected: int) -> None:
    assert news2.temperature_score(value) == expected


def test_readings_are_rounded_to_the_chart_resolution_first() -> None:
    assert news2.respiration_score(20.4) == 0 and news2.respiration_score(20.5) == 2
    assert news2.pulse_score(90.49) == 0 and news2.pulse_score(90.5) == 1
    assert news2.temperature_score(38.04) == 0 and news2.temperature_score(38.05) == 1
    assert news2.spo2_scale1_score(95.5) == 0 and news2.spo2_scale1_score(95.4) == 1


def _obs(**kw: object) -> Observation:
    base: dict[str, object] = dict(respiration_rate=16, spo2=98, on_oxygen=False, systolic_bp=120, pulse=70,
                                   consciousness=Consciousness.ALERT, temperature_c=37.0)
    base.update(kw)
    return Observation(**base)  # type: ignore[arg-type]


def test_a_healthy_adult_scores_zero_low() -> None:
    s = news2.score(_obs())
    assert s.total == 0 and s.band is Band.LOW and not s.red
    assert set(s.parameters) == set(Parameter)


def test_oxygen_adds_two_and_is_not_a_red_score() -> None:
    s = news2.score(_obs(on_oxygen=True))
    assert s.total == 2 and s.parameters[Parameter.AIR_OR_OXYGEN] == 2 and s.band is Band.LOW


@pytest.mark.parametrize("level", [Consciousness.CONFUSION, Consciousness.VOICE, Consciousness.PAIN,
                                   Consciousness.UNRESPONSIVE])
def test_any_new_confusion_or_worse_is_a_red_three(level: Consciousness) -> None:
    s = news2.score(_obs(consciousness=level))
    assert s.total == 3 and s.red and s.band is Band.LOW_MEDIUM


@pytest.mark.parametrize(("kw", "total", "band"), [
    ({"respiration_rate": 22}, 2, Band.LOW),                              # 2
    ({"respiration_rate": 22, "pulse": 95, "temperature_c": 38.5}, 4, Band.LOW),
    ({"respiration_rate": 7}, 3, Band.LOW_MEDIUM),                        # single red 3
    ({"respiration_rate": 22, "pulse": 115, "temperature_c": 38.5}, 5, Band.MEDIUM),
    ({"respiration_rate": 22, "pulse": 115, "systolic_bp": 105, "temperature_c": 38.5}, 6, Band.MEDIUM),
    ({"respiration_rate": 25, "pulse": 115, "systolic_bp": 105, "temperature_c": 38.5}, 7, Band.HIGH),
    ({"respiration_rate": 30, "spo2": 88, "on_oxygen": True, "systolic_bp": 85, "pulse": 140,
      "consciousness": Consciousness.VOICE, "temperature_c": 34.0}, 20, Band.HIGH),  # every row at its worst
])
def test_aggregate_and_response_band(kw: dict[str, object], total: int, band: Band) -> None:
    s = news2.score(_obs(**kw))
    assert (s.total, s.band) == (total, band)


def test_scale2_is_chosen_per_patient_not_inferred() -> None:
    hypercapnic = _obs(spo2=89, spo2_scale=SpO2Scale.SCALE_2)
    assert news2.score(hypercapnic).parameters[Parameter.SPO2] == 0
    assert news2.score(_obs(spo2=89)).parameters[Parameter.SPO2] == 3


@pytest.mark.parametrize(("kw", "field"), [
    ({"spo2": 101}, "spo2"), ({"spo2": float("nan")}, "spo2"), ({"pulse": -1}, "pulse"),
    ({"temperature_c": float("inf")}, "temperature_c"), ({"systolic_bp": True}, "systolic_bp"),
])
def test_bad_observations_are_refused_naming_the_field(kw: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        _obs(**kw)
