"""The rule that decides whether an emotion window is analysed: a missing, flat or clipped channel is
named ("emotion not analysed: no PPG"), whatever the channel's units."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_sim.emotion import EmotionStream
from firmware_sim.persona import make_persona
from models.preprocessing.emotion_quality import NotAnalysed, channel_problem, input_problem


@cache
def window(index: int = 0) -> dict[str, np.ndarray]:
    stream = EmotionStream(make_persona(4, index), np.random.default_rng(index), cycle_s=120.0)
    return {k: v[:, 0].astype(np.float64) for k, v in stream.render(60.0).items()}


def test_a_clean_simulated_window_is_analysed() -> None:
    for i in range(4):
        w = window(i)
        assert input_problem(w["ecg"], w["eda"], w["ppg"]) is None


@pytest.mark.parametrize(
    ("change", "message", "label"),
    [
        ({"ppg": None}, "emotion not analysed: no PPG", "no_ppg"),
        ({"eda": None}, "emotion not analysed: no EDA", "no_eda"),
        ({"ecg": np.zeros(15000)}, "emotion not analysed: ECG flat", "ecg_flat"),
        ({"eda": np.full(240, 2048.0)}, "emotion not analysed: EDA flat", "eda_flat"),
        ({"ppg": np.array([1.0])}, "emotion not analysed: no PPG", "no_ppg"),
        ({"ppg": np.full(3840, np.nan)}, "emotion not analysed: no PPG", "no_ppg"),
    ],
)
def test_missing_and_flat_channels_are_named(change: dict[str, np.ndarray | None], message: str, label: str) -> None:
    w: dict[str, np.ndarray | None] = {**window(), **change}
    verdict = input_problem(w["ecg"], w["eda"], w["ppg"])
    assert verdict is not None and verdict.message == message and verdict.label == label


def test_a_ppg_clipped_by_the_old_wire_or_a_saturated_front_end_is_named() -> None:
    ppg = window()["ppg"]
    adc = 2000.0 + 400.0 * ppg  # a PPG in ADC counts, as a real band sends it
    old_wire = np.clip(28.0 + 8.0 * ppg, -32.767, 32.767)  # the 1.0.0 wire (0.001 a count in int16) on a.u.
    saturated = np.minimum(adc, np.percentile(adc, 88))
    above_the_rail = np.clip(adc, -32.767, 32.767)  # every sample at the rail: nothing of the PPG is left
    assert input_problem(window()["ecg"], window()["eda"], above_the_rail) == NotAnalysed("ppg", "flat")
    for clipped in (old_wire, saturated):
        verdict = input_problem(window()["ecg"], window()["eda"], clipped)
        assert verdict == NotAnalysed("ppg", "clipped") and verdict.message == "emotion not analysed: PPG clipped"
    assert channel_problem("ppg", adc) is None
    assert channel_problem("eda", np.minimum(window()["eda"], np.percentile(window()["eda"], 88))) is None  # EDA: never


@settings(max_examples=40, deadline=None)
@given(gain=st.floats(-4, 4).map(lambda e: 10.0**e), offset=st.floats(-1e4, 1e4), clip=st.booleans())
def test_the_verdict_does_not_depend_on_units(gain: float, offset: float, clip: bool) -> None:
    ppg = window(1)["ppg"]
    if clip:
        ppg = np.minimum(ppg, np.percentile(ppg, 85))  # 15 % at the top
    base = channel_problem("ppg", ppg)
    assert base == ("clipped" if clip else None)
    assert channel_problem("ppg", ppg * gain + offset * gain) == base


def test_real_ppg_and_ecg_windows_are_analysed_unless_the_recording_itself_is_clipped() -> None:
    """Every minute of every fetched real PPG/ECG/EDA (resampled to the band's rates as replay does) is
    analysed unless the recording itself sits at its extreme value for more than the clipped share of
    that minute (heartpy's data2 reads 0 for 12 % of its first minute); clipped at its 88th percentile,
    every minute of PPG and ECG is called clipped."""
    from cloud.real_emotion.recordings import load_all
    from firmware_sim.replay import DEVICE_RATES, resample
    from models.preprocessing.emotion_quality import CLIPPED_SHARE

    recs = load_all()
    if not recs:
        pytest.skip("no real recordings fetched: run scripts/fetch_real_emotion.sh")
    checked, dropouts = 0, []
    for rec in recs:
        for channel, x in rec.signals.items():
            y = resample(x[:, None], rec.rates[channel], DEVICE_RATES[channel])[:, 0]
            n = min(len(y), int(60 * DEVICE_RATES[channel]))
            for start in range(0, len(y) - n + 1, n):
                w = y[start : start + n]
                raw = x[int(start / DEVICE_RATES[channel] * rec.rates[channel]) :][: int(60 * rec.rates[channel])]
                at_rail = max(np.mean(raw == raw.max()), np.mean(raw == raw.min()))
                clipped = channel in ("ppg", "ecg") and at_rail > CLIPPED_SHARE
                assert channel_problem(channel, w) == ("clipped" if clipped else None), f"{rec.name} {channel} {start}"
                if clipped:
                    dropouts.append(f"{rec.name} {channel} {start}")
                if channel in ("ppg", "ecg"):
                    assert channel_problem(channel, np.minimum(w, np.percentile(w, 88))) == "clipped"
                checked += 1
    assert checked > 30 and dropouts == ["heartpy/data2 ppg 0"]
