"""Emotion / stress classifier: an LSTM over per-step ECG, EDA and PPG features."""

from __future__ import annotations

from typing import Any

import keras
from keras import layers

from models.definitions import ModelSpec
from models.preprocessing import emotion

SPEC = ModelSpec(
    name="emotion",
    classes=("baseline", "stress", "amusement"),
    input_shape=(emotion.STEPS, emotion.FEATURES),
    preprocessing="models.preprocessing.emotion",
    preprocessing_version=emotion.RELATIVE_VERSION,
    description="baseline / stress / amusement from a 60 s window of ECG, EDA and PPG as 6 steps of 11 unit-free"
    " features relative to the subject's own running baseline (input 2)",
    has_lstm=True,
)

#: per-step embedding, LSTM units, dense units.
_SIZES = {"full": (128, (128, 96), 64), "edge": (128, (96,), 64)}


def build(variant: str, *, batch_size: int | None, unroll: bool) -> Any:
    embed, units, dense = _SIZES[variant]
    inp = keras.Input(shape=SPEC.input_shape, batch_size=batch_size, name="features")
    x = layers.Dense(embed, activation="relu", name="embed")(inp)  # applied to every step
    for i, u in enumerate(units):
        x = layers.LSTM(u, return_sequences=i < len(units) - 1, unroll=unroll, name=f"lstm{i}")(x)
    x = layers.Dropout(0.3, name="dropout")(x)  # subjects differ more than episodes do: fight overfitting
    x = layers.Dense(dense, activation="relu", name="dense")(x)
    out = layers.Dense(len(SPEC.classes), activation="softmax", name="probs")(x)
    return keras.Model(inp, out, name=f"emotion_{variant}")
