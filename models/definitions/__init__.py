"""Keras model definitions (cloud only: the edge never imports this package).

Every model has a ``full`` cloud variant and a compact ``edge`` variant; :func:`build` makes either,
and ``export_twin=True`` makes the static batch-1, unrolled-LSTM twin that int8 conversion needs.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

VARIANTS = ("full", "edge")


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """What the pipeline needs to know about a model besides its layers."""

    name: str
    classes: tuple[str, ...]
    input_shape: tuple[int, ...]
    preprocessing: str
    #: version of the input format the model reads (semantic: its major is what an edge must run)
    preprocessing_version: str
    description: str
    has_lstm: bool


def _module(name: str) -> Any:
    if name not in MODEL_NAMES:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(MODEL_NAMES)}")
    return importlib.import_module(f"models.definitions.{name}")


MODEL_NAMES = ("fall", "ecg", "emotion", "vitals")


def spec(name: str) -> ModelSpec:
    result: ModelSpec = _module(name).SPEC
    return result


def build(name: str, variant: str, *, export_twin: bool = False, seed: int = 0) -> Any:
    """A compiled-ready (uncompiled) ``keras.Model``. ``export_twin``: batch 1, LSTMs unrolled."""
    if variant not in VARIANTS:
        raise KeyError(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")
    import keras

    keras.utils.set_random_seed(seed)
    return _module(name).build(variant, batch_size=1 if export_twin else None, unroll=export_twin)
