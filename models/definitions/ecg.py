"""ECG beat classifier (AAMI N/S/V/F, and Q for paced beats).

A 1D CNN over the beat waveform and the previous beat's (two channels) joined with its RR features.

The input is one flat vector (waveform then RR features, see :mod:`models.preprocessing.beats`) so
the int8 model has a single input tensor; two cropping layers split it inside the model.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import layers

from models.definitions import ModelSpec
from models.preprocessing import beats

SPEC = ModelSpec(
    name="ecg",
    classes=("N", "S", "V", "F", "Q"),
    input_shape=(beats.INPUT2,),
    preprocessing="models.preprocessing.beats",
    preprocessing_version=beats.NORMALISED_VERSION,
    description="AAMI beat class from a 0.64 s beat-centred ECG window and the same window of the beat before"
    " (250 Hz, divided by the beat's QRS amplitude: input 2) plus 5 RR features",
    has_lstm=False,
)

#: Dropout before and after the dense layer (inactive at inference and in the exported model): the
#: simulated subjects are few next to the morphologies real leads show, and without it the model
#: learned each training subject's beats (validation loss rose from the second epoch).
DROPOUT = 0.3
#: conv filters, dense units, RR-branch units.
_SIZES = {"full": ((32, 64, 128), 128, 32), "edge": ((16, 32, 64), 64, 16)}


def build(variant: str, *, batch_size: int | None, unroll: bool) -> Any:
    del unroll  # no recurrent layers
    filters, dense, rr_units = _SIZES[variant]
    inp = keras.Input(shape=SPEC.input_shape, batch_size=batch_size, name="beat")
    seq = layers.Reshape((beats.INPUT2, 1), name="as_sequence")(inp)
    this = layers.Cropping1D((0, beats.WAVE + beats.RR_FEATURES), name="waveform")(seq)
    before = layers.Cropping1D((beats.WAVE, beats.RR_FEATURES), name="previous_waveform")(seq)
    rr = layers.Flatten(name="rr")(layers.Cropping1D((2 * beats.WAVE, 0), name="rr_crop")(seq))
    x = layers.Concatenate(axis=-1, name="beat_and_previous")([this, before])  # two channels
    for i, f in enumerate(filters):
        x = layers.Conv1D(f, 7 if i == 0 else 5, padding="same", activation="relu", name=f"conv{i}")(x)
        x = layers.MaxPooling1D(2 if i < len(filters) - 1 else 4, name=f"pool{i}")(x)
    x = layers.Flatten(name="flat")(x)
    r = layers.Dense(rr_units, activation="relu", name="rr_dense")(rr)
    x = layers.Concatenate(name="join")([x, r])
    x = layers.Dropout(DROPOUT, name="join_dropout")(x)
    x = layers.Dense(dense, activation="relu", name="dense")(x)
    x = layers.Dropout(DROPOUT, name="dense_dropout")(x)
    out = layers.Dense(len(SPEC.classes), activation="softmax", name="probs")(x)
    return keras.Model(inp, out, name=f"ecg_{variant}")
