"""Where training runs: the CPU through TensorFlow, or a GPU through Keras 3's JAX backend.

The TensorFlow build the cloud extra installs has no GPU support, so a GPU is only used through
JAX (``pip install "jax[cuda12]"``). Keras picks its backend once, at import, so
:func:`configure` must run before anything imports ``keras``.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass

from iomt.config import ConfigError

DEVICES = ("auto", "cpu", "gpu")


class DeviceError(ConfigError):
    """The requested device cannot be used here (``iomt`` reports it as a usage error, exit 2)."""


@dataclass(frozen=True, slots=True)
class Placement:
    device: str  # "cpu" or "gpu"
    backend: str  # Keras backend: "tensorflow" or "jax"
    detail: str


def jax_gpus() -> list[str]:
    """Names of the GPUs JAX can see; empty when JAX is missing or has no GPU plugin."""
    if importlib.util.find_spec("jax") is None:
        return []
    try:
        import jax

        return [str(d) for d in jax.devices() if d.platform == "gpu"]
    except RuntimeError:  # no GPU backend initialised
        return []


def resolve(device: str) -> Placement:
    if device not in DEVICES:
        raise DeviceError(f"unknown device {device!r}; choose one of {', '.join(DEVICES)}")
    gpus = jax_gpus() if device in ("auto", "gpu") else []
    if device == "gpu" and not gpus:
        raise DeviceError("--device gpu: no GPU visible to JAX (install jax[cuda12] on a machine with an NVIDIA GPU)")
    if gpus:
        return Placement("gpu", "jax", ", ".join(gpus))
    return Placement("cpu", "tensorflow", "TensorFlow on the CPU")


def configure(device: str) -> Placement:
    """Resolve ``device`` and select the matching Keras backend (before Keras is imported)."""
    placement = resolve(device)
    if "keras" in sys.modules:
        import keras

        current = keras.backend.backend()
        if current != placement.backend:
            raise DeviceError(f"Keras was already imported with the {current} backend; {placement.backend} is needed")
        return placement
    os.environ["KERAS_BACKEND"] = placement.backend  # Keras reads it at import; nothing else here reads it
    return placement
