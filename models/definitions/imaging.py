"""Lesion segmentation: a compact U-Net over a 96 x 96 grayscale image (ultrasound or X-ray).

Three resolution levels (96, 48, 24) and a bottleneck at 12 x 12 whose second convolution is dilated,
so a lesion's whole outline and its surroundings are in view without a fourth level. Conv -> batch
norm -> ReLU (batch norm folds into the convolutions at conversion); nearest-neighbour upsampling and
concatenated skips, which all convert to full-integer int8 LiteRT ops. The output is a two-class
softmax per pixel (background, lesion), so the released model is described like the classifiers.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import layers, ops

from models.definitions import ModelSpec
from models.preprocessing import imaging

SPEC = ModelSpec(
    name="imaging",
    classes=("background", "lesion"),
    input_shape=(imaging.INPUT_SIZE, imaging.INPUT_SIZE, 1),
    preprocessing="models.preprocessing.imaging",
    preprocessing_version=imaging.INPUT_VERSION,
    description="per-pixel lesion probability of a 96x96 grayscale ultrasound or X-ray image (letterboxed, 0..1)",
    has_lstm=False,
)

#: encoder filters per level, bottleneck filters, convolutions per decoder level.
_SIZES = {"full": ((16, 32, 64), 96, 2), "edge": ((12, 24, 48), 64, 1)}


def _conv(x: Any, filters: int, name: str, dilation: int = 1) -> Any:
    x = layers.Conv2D(filters, 3, padding="same", dilation_rate=dilation, use_bias=False, name=name)(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def build(variant: str, *, batch_size: int | None, unroll: bool) -> Any:
    del unroll  # no recurrent layers
    filters, bottleneck, decoder_convs = _SIZES[variant]
    inp = keras.Input(shape=SPEC.input_shape, batch_size=batch_size, name="image")
    x = inp
    skips = []
    for i, f in enumerate(filters):
        x = _conv(x, f, f"enc{i}a")
        x = _conv(x, f, f"enc{i}b")
        skips.append(x)
        x = layers.MaxPooling2D(2, name=f"pool{i}")(x)
    x = _conv(x, bottleneck, "mid_a")
    x = _conv(x, bottleneck, "mid_b", dilation=2)
    for i in reversed(range(len(filters))):
        x = layers.UpSampling2D(2, interpolation="nearest", name=f"up{i}")(x)
        x = layers.Concatenate(name=f"skip{i}")([x, skips[i]])
        for k in range(decoder_convs):
            x = _conv(x, filters[i], f"dec{i}{'ab'[k]}")
    out = layers.Conv2D(len(SPEC.classes), 1, activation="softmax", name="probs")(x)
    return keras.Model(inp, out, name=f"imaging_{variant}")


#: the image-level score of the detection loss is the mean of this many highest lesion probabilities of an
#: image: the finding rule's smallest component, what a finding needs above the threshold
DETECTION_TOP_K = imaging.MIN_AREA_MODEL_PX


def _pixel_terms(y_true: Any, y_pred: Any) -> tuple[Any, Any, Any]:
    """Per-pixel cross-entropy (mean), per-image soft Dice of the lesion class, the lesion probability."""
    y_true = ops.cast(ops.squeeze(y_true, -1) if len(y_true.shape) == 4 else y_true, "int32")
    onehot = ops.one_hot(y_true, 2)
    p = ops.clip(y_pred, 1e-7, 1.0 - 1e-7)
    ce = -ops.mean(ops.sum(onehot * ops.log(p), axis=-1))
    lesion_p, lesion_t = p[..., 1], onehot[..., 1]
    inter = ops.sum(lesion_p * lesion_t, axis=(1, 2))
    dice = (2.0 * inter + 1.0) / (ops.sum(lesion_p, axis=(1, 2)) + ops.sum(lesion_t, axis=(1, 2)) + 1.0)
    return ce, dice, (lesion_p, lesion_t)


@keras.saving.register_keras_serializable(package="iomt")
def dice_ce_loss(y_true: Any, y_pred: Any) -> Any:
    """Cross-entropy plus the mean per-image soft Dice loss of the lesion class, as the metric averages
    Dice per image (a batch-wide Dice lets large lesions drown small ones). The smoothing term makes an
    image without a lesion score 1 / (1 + predicted area): false findings there are punished too."""
    ce, dice, _ = _pixel_terms(y_true, y_pred)
    return ce + (1.0 - ops.mean(dice))


@keras.saving.register_keras_serializable(package="iomt")
def dice_ce_detection_loss(y_true: Any, y_pred: Any) -> Any:
    """:func:`dice_ce_loss` plus an image-level binary cross-entropy on whether the image holds a lesion
    (``iomt train imaging --detection-loss``). The floors judge images (sensitivity, specificity), and a
    false finding on a lesion-free image is a few dozen confident pixels that the pixel terms barely
    weigh among 9,216; the image's score is the mean of its :data:`DETECTION_TOP_K` highest lesion
    probabilities, which is what the finding rule needs above its threshold."""
    ce, dice, (lesion_p, lesion_t) = _pixel_terms(y_true, y_pred)
    flat = ops.reshape(lesion_p, (ops.shape(lesion_p)[0], -1))
    score = ops.mean(ops.top_k(flat, DETECTION_TOP_K, sorted=False)[0], axis=-1)
    has = ops.cast(ops.max(ops.reshape(lesion_t, (ops.shape(lesion_t)[0], -1)), axis=-1) > 0.5, score.dtype)
    bce = -ops.mean(has * ops.log(score) + (1.0 - has) * ops.log(1.0 - score))
    return ce + (1.0 - ops.mean(dice)) + bce
