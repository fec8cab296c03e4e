"""Rebuild a trainable Keras model of a released imaging ``.tflite``, so a release can be trained further on
a machine that never held its float checkpoint (a fresh clone: only the int8 file ships)::

    python -m cloud.imaging.recover [--models-dir models] [--workdir build/cloud] [--images N]

writes ``<workdir>/imaging/imaging_<variant>.keras``, which ``iomt train imaging --resume`` continues.

The converter folded each batch norm into the convolution before it (``conv -> bn -> relu`` became one
int8 convolution with a bias). Each convolution's int8 weights and int32 bias are dequantized with their
per-channel scales and put back in the Keras layers in graph order; the batch norm after each is set so
that, in inference *and* in training, it adds the folded bias and nothing else: its moving mean and
variance are the convolution's own per-channel statistics on ``images`` simulated phantoms, its scale
their standard deviation and its offset the bias plus the mean. (An identity batch norm would be right in
inference only: training normalises with the batch's statistics and would throw the weights off at the
first step.) The rebuilt model reproduces the int8 model up to its quantization:
:func:`agreement` measures it, and the command refuses to write a model that does not agree.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from models.runtime import RELEASED_DIR, ModelRunner, released_paths

#: The rebuilt model's lesion probability may differ from the int8 model's by this much on average.
MAX_MEAN_DIFFERENCE = 0.01


def _conv_layer_names(model: Any) -> list[str]:
    import keras

    return [layer.name for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]


def _folded_convolutions(tflite: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(kernel (kh, kw, in, out), bias (out,))`` of each CONV_2D of the file, in graph order, float."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(tflite))
    it.allocate_tensors()
    details = {t["index"]: t for t in it.get_tensor_details()}

    def value(index: int) -> np.ndarray:
        scales = details[index]["quantization_parameters"]["scales"]
        q = it.get_tensor(index).astype(np.float64)
        return q * scales.reshape((-1,) + (1,) * (q.ndim - 1))

    out = []
    for op in it._get_ops_details():  # the public API names tensors, not which op uses which
        if op["op_name"] == "CONV_2D":
            weights, bias = value(op["inputs"][1]), value(op["inputs"][2])
            out.append((np.transpose(weights, (1, 2, 3, 0)).astype(np.float32), bias.astype(np.float32)))
    return out


def rebuild(runner: ModelRunner, tflite: Path, calibration: np.ndarray) -> Any:
    """The Keras model of ``runner``'s variant carrying the file's weights (see the module docstring)."""
    import keras

    from models.definitions import build

    model = build("imaging", runner.metadata.variant, seed=0)
    names = _conv_layer_names(model)
    convs = _folded_convolutions(tflite)
    if len(convs) != len(names):
        raise ValueError(f"{tflite} has {len(convs)} convolutions, the {runner.metadata.variant} variant {len(names)}:"
                         " not this architecture")
    biases: dict[str, np.ndarray] = {}
    for name, (kernel, bias) in zip(names, convs, strict=True):
        layer = model.get_layer(name)
        if tuple(layer.kernel.shape) != kernel.shape:
            raise ValueError(f"{tflite}: convolution {name} is {kernel.shape},"
                             f" the variant's {tuple(layer.kernel.shape)}")
        if layer.use_bias:
            layer.set_weights([kernel, bias])
        else:
            layer.set_weights([kernel])
            biases[name] = bias
            bn = model.get_layer(f"{name}_bn")  # first: adds the bias and nothing else, in inference
            ones = np.ones_like(bias)
            bn.set_weights([ones, bias, np.zeros_like(bias), ones - bn.epsilon])
    # each convolution's output as the released model computes it (inference), for the statistics
    probe = keras.Model(model.input, [model.get_layer(n).output for n in biases])
    outputs = probe.predict(calibration, batch_size=32, verbose=0)
    for (name, bias), z in zip(biases.items(), outputs, strict=True):
        bn = model.get_layer(f"{name}_bn")
        mean, var = z.mean(axis=(0, 1, 2)), z.var(axis=(0, 1, 2))
        bn.set_weights([np.sqrt(var + bn.epsilon), bias + mean, mean, var])
    return model


def agreement(model: Any, runner: ModelRunner, images: np.ndarray) -> dict[str, float]:
    """Mean and largest difference of the lesion probability, and the share of pixels on the same side of
    0.5, between the rebuilt model and the int8 one on ``images`` (model inputs)."""
    rebuilt = np.asarray(model.predict(images, batch_size=32, verbose=0))[..., 1]
    released = runner.predict(images)[..., 1]
    diff = np.abs(rebuilt - released)
    return {"mean_difference": float(diff.mean()), "max_difference": float(diff.max()),
            "same_side_of_0.5": float(((rebuilt >= 0.5) == (released >= 0.5)).mean())}


def phantom_inputs(count: int, seed: int) -> np.ndarray:
    """``count`` model inputs of simulated phantoms (both modalities, with and without a lesion)."""
    from firmware_sim.imaging import MODALITIES, phantom
    from models.preprocessing import imaging as prep

    rng = np.random.default_rng(seed)
    return np.stack([prep.model_input(phantom(rng, 128, MODALITIES[i % 2], lesion=bool(i % 3))[0])[0]
                     for i in range(count)])


def main(argv: list[str] | None = None) -> int:
    from cloud.device import configure

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", type=Path, default=RELEASED_DIR)
    parser.add_argument("--workdir", type=Path, default=Path("build/cloud"))
    parser.add_argument("--images", type=int, default=256, help="simulated phantoms for the batch-norm statistics")
    args = parser.parse_args(argv)
    configure("cpu")
    from cloud.train import model_path

    tflite, meta = released_paths("imaging", args.models_dir)
    runner = ModelRunner(tflite, meta)
    model = rebuild(runner, tflite, phantom_inputs(args.images, seed=1))
    check = agreement(model, runner, phantom_inputs(32, seed=2))
    sys.stdout.write(f"imaging {runner.version} ({runner.metadata.variant}) rebuilt from {tflite}: lesion probability"
                     f" differs from int8 by {check['mean_difference']:.4f} on average"
                     f" (max {check['max_difference']:.3f});"
                     f" {check['same_side_of_0.5']:.2%} of pixels on the same side of 0.5\n")
    if check["mean_difference"] > MAX_MEAN_DIFFERENCE:
        sys.stderr.write(f"not written: the rebuilt model differs from the release by more than {MAX_MEAN_DIFFERENCE}"
                         " on average; the file and the architecture do not match\n")
        return 1
    out = model_path(args.workdir, "imaging", runner.metadata.variant)
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(out)
    sys.stdout.write(f"written {out}: continue it with `iomt train imaging --workdir {args.workdir} --variant"
                     f" {runner.metadata.variant} --resume`\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
