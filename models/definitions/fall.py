"""Fall detector: a 1D CNN feature extractor over accelerometer + gyroscope, then an LSTM."""

from __future__ import annotations

from typing import Any

import keras
from keras import layers

from models.definitions import ModelSpec
from models.preprocessing import motion

SPEC = ModelSpec(
    name="fall",
    classes=("no_fall", "fall"),
    input_shape=(motion.WINDOW, motion.CHANNELS),
    preprocessing="models.preprocessing.motion",
    description="fall / no fall from a 2 s window of waist accelerometer (g) and gyroscope (100 deg/s) at 50 Hz",
    has_lstm=True,
)

#: conv filters (each followed by 2x pooling), LSTM units, dense units. The edge variant is sized so that
#: weights, not the unrolled graph, dominate its int8 file.
_SIZES = {"full": ((64, 96, 128, 160), 96, 128), "edge": ((32, 64, 96, 128), 48, 64)}


def build(variant: str, *, batch_size: int | None, unroll: bool) -> Any:
    """ReLU6, not ReLU: impacts drive unbounded activations so high that int8 ranges calibrated on them
    leave too little resolution for ordinary movement (the int8 model lost 15 points of specificity)."""
    filters, lstm_units, dense = _SIZES[variant]
    inp = keras.Input(shape=SPEC.input_shape, batch_size=batch_size, name="motion")
    x = inp
    for i, f in enumerate(filters):
        x = layers.Conv1D(f, 5 if i < 2 else 3, padding="same", activation="relu6", name=f"conv{i}")(x)
        x = layers.MaxPooling1D(2, name=f"pool{i}")(x)
    x = layers.LSTM(lstm_units, unroll=unroll, name="lstm")(x)
    x = layers.Dense(dense, activation="relu6", name="dense")(x)
    out = layers.Dense(len(SPEC.classes), activation="softmax", name="probs")(x)
    return keras.Model(inp, out, name=f"fall_{variant}")
