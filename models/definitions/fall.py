"""Fall detector: a small 1D CNN over the orientation-invariant channels of an impact-centred window.

The model only sees windows around an impact (|a| above the screen of :mod:`models.fall_logic`),
with the impact at a fixed place (:data:`models.preprocessing.motion.IMPACT_AT_S`), so it has one
question to answer — did this impact end a fall (free fall, rotation, impact, a new orientation)? —
and no need for a recurrent layer: three convolutions and a global pooling, int8-friendly
(Conv1D/MaxPool/Dense with ReLU6) and a few thousand weights. Whether the person then stays down is
decided by the logic after the model, not by it.
"""

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
    preprocessing_version=motion.INVARIANT_VERSION,
    description=(
        "fall / no fall at an impact: 2 s window (impact at 1.4 s) of orientation-invariant motion channels "
        f"{', '.join(motion.INVARIANT_CHANNELS)} at 50 Hz (input version {motion.INVARIANT_VERSION})"
    ),
    has_lstm=False,
)

#: conv filters (each followed by 2x pooling but the last), dense units. Smaller edge variants than this
#: are possible but their int8 file is mostly fixed overhead (a 9k-weight variant was 33 % of its
#: float32 file; the export floor is 30 %), and the model runs only at impacts.
_SIZES = {"full": ((48, 96, 96), 96), "edge": ((32, 64, 64), 64)}


def build(variant: str, *, batch_size: int | None, unroll: bool) -> Any:
    """ReLU6, not ReLU: impacts drive activations so high that int8 ranges calibrated on them would
    leave too little resolution for ordinary movement. ``unroll`` is unused (no recurrence)."""
    filters, dense = _SIZES[variant]
    inp = keras.Input(shape=SPEC.input_shape, batch_size=batch_size, name="motion")
    x = inp
    for i, f in enumerate(filters):
        x = layers.Conv1D(f, 5, padding="same", activation="relu6", name=f"conv{i}")(x)
        if i < len(filters) - 1:
            x = layers.MaxPooling1D(2, name=f"pool{i}")(x)
    x = layers.GlobalMaxPooling1D(name="gmax")(x)
    x = layers.Dense(dense, activation="relu6", name="dense")(x)
    out = layers.Dense(len(SPEC.classes), activation="softmax", name="probs")(x)
    return keras.Model(inp, out, name=f"fall_{variant}")
