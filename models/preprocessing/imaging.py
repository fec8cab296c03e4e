"""Images in and lesions out of the segmentation model, shared by training and the edge.

In: any grayscale (or colour, reduced to its luminance) image of any size is padded to a square
(centred, black: ultrasound and X-ray backgrounds are black, and padding keeps the aspect ratio, so
a round lesion stays round), resampled to ``INPUT_SIZE`` x ``INPUT_SIZE`` (bilinear, with a Gaussian
anti-alias when shrinking) and scaled to 0..1 by its own 99th percentile (at least ``MIN_WHITE``), so a
scanner's gain does not change what the model sees.

Out: the lesion probability of each pixel is the mean of the model's output on the image and on its
left-right mirror (mirrored back): :func:`lesion_probability`. Both modalities are imaged either way
round and the model is trained on both, so the two passes are two looks at the same image, and where
they disagree (speckle, an electrode, a reflector) the mean falls below the threshold. On imaging
1.1.0's held-out simulated devices this cut false findings on lesion-free images from 10.3 % to 6.5 %
and raised mean Dice with a lesion from 0.773 to 0.782, for a second invoke (~1 ms). The
probabilities then go back to the image's own pixels by the inverse mapping.
**The finding rule** (what the edge reports and what detection is scored on): pixels with
probability >= the release's threshold form 8-connected components (each release chooses its threshold
on its validation devices and names it in its metadata, ``decision``: :func:`release_threshold`); a
component is a lesion when it covers at least ``MIN_AREA_MODEL_PX`` pixels of the model's grid (so the
rule does not depend on the image's size). Each lesion has its area in pixels (and mm² when the
spacing is known), its bounding box and its confidence: the mean probability over its pixels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from scipy import ndimage

INPUT_SIZE = 96
#: Version of the input this module makes (semantic, recorded with each model: a new major is a new
#: input format) and the majors it still makes.
INPUT_VERSION = "1.0.0"
RUNS_MAJORS = ("1",)
#: The 99th-percentile pixel value an image is scaled by is at least this (a near-black image stays dark).
MIN_WHITE = 64.0
#: The lesion probability a finding needs when a release's metadata names none: imaging 1.3.0's, the
#: first release whose threshold was chosen on its validation devices (never on the test devices): the
#: highest mean Dice with a lesion while specificity stays >= 95 %. int8, thresholds 0.30/0.35/0.40/0.45/
#: 0.50 gave Dice 0.797/0.798/0.800/0.799/0.791, sensitivity 94.0/94.0/93.7/93.3/91.8 %, specificity
#: 95.5/95.5/95.9/96.3/96.7 % (`python -m cloud.imaging.threshold_study`). 0.5 before. Later releases
#: record their own (``cloud.imaging.export`` chooses it by the same criterion).
THRESHOLD = 0.4
MIN_AREA_MODEL_PX = 8
_SQUARE = ndimage.generate_binary_structure(2, 2)
#: A model as a function: inputs ``(n, INPUT_SIZE, INPUT_SIZE, 1)`` -> class probabilities ``(n, ..., 2)``.
Predict = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True, slots=True)
class Letterbox:
    """Where an image of ``height`` x ``width`` sits in the padded square of side ``side``."""

    height: int
    width: int
    side: int
    top: int
    left: int

    @classmethod
    def of(cls, height: int, width: int) -> Letterbox:
        """The square is the longer side, rounded up to a whole number of :meth:`block` pixels."""
        block = max(1, max(height, width) // (2 * INPUT_SIZE))
        side = -(-max(height, width) // block) * block
        return cls(height, width, side, (side - height) // 2, (side - width) // 2)

    @property
    def block(self) -> int:
        """Large images are first averaged over ``block`` x ``block`` pixels (cheap, exact in geometry)."""
        return max(1, self.side // (2 * INPUT_SIZE))

    @property
    def model_px_per_image_px(self) -> float:
        return INPUT_SIZE / self.side


@dataclass(frozen=True, slots=True)
class Lesion:
    """One lesion the model found, in the image's own pixels."""

    mask: np.ndarray  # bool, the image's shape
    area_px: int
    area_mm2: float | None
    confidence: float
    bbox: tuple[int, int, int, int]  # x0, y0, x1, y1 inclusive


def to_gray(pixels: np.ndarray) -> np.ndarray:
    """``(h, w)`` uint8 from ``(h, w)``, ``(h, w, 3)`` RGB or ``(h, w, 4)`` RGBA (ITU-R BT.601 luma)."""
    a = np.asarray(pixels)
    if a.ndim == 3 and a.shape[2] in (3, 4):
        a = a[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    if a.ndim != 2:
        raise ValueError(f"an image is (height, width) or (height, width, 3|4), got shape {a.shape}")
    if a.dtype != np.uint8:
        a = np.clip(np.round(a), 0, 255).astype(np.uint8)
    return a


def _resize(a: np.ndarray, out: int) -> np.ndarray:
    """Square ``a`` (side n) to ``out`` x ``out``, pixel areas aligned (grid mode), bilinear."""
    n = a.shape[0]
    if n == out:
        return a.astype(np.float32, copy=False)
    factor = out / n
    if factor < 1:
        a = ndimage.gaussian_filter(a, sigma=(1 / factor - 1) / 2, mode="nearest")
    return np.asarray(ndimage.zoom(a, factor, order=1, grid_mode=True, mode="nearest"), dtype=np.float32)


def _square(a: np.ndarray, box: Letterbox) -> np.ndarray:
    """``a`` placed in the letterbox square and block-averaged (see :attr:`Letterbox.block`)."""
    square = np.zeros((box.side, box.side), dtype=np.float32)
    square[box.top:box.top + box.height, box.left:box.left + box.width] = a
    k = box.block
    if k > 1:
        n = box.side // k
        square = square.reshape(n, k, n, k).mean(axis=(1, 3))
    return square


def model_input(pixels: np.ndarray) -> tuple[np.ndarray, Letterbox]:
    """``(x, letterbox)``: ``x`` float32 ``(INPUT_SIZE, INPUT_SIZE, 1)`` in 0..1 from an image of any size."""
    gray = to_gray(pixels)
    box = Letterbox.of(*gray.shape)
    small = _resize(_square(gray, box), INPUT_SIZE)
    white = max(float(np.percentile(small, 99)), MIN_WHITE)
    x = np.clip(small / white, 0.0, 1.0)
    return x[..., None].astype(np.float32), box


def model_target(mask: np.ndarray) -> np.ndarray:
    """A reference mask in the model's grid (uint8 0/1, ``(INPUT_SIZE, INPUT_SIZE)``), for training."""
    m = np.asarray(mask, dtype=bool)
    box = Letterbox.of(*m.shape)
    return (_resize(_square(m, box), INPUT_SIZE) >= 0.5).astype(np.uint8)


def lesion_probability(predict: Predict, x: np.ndarray) -> np.ndarray:
    """Per-pixel lesion probability ``(n, INPUT_SIZE, INPUT_SIZE)`` of the model inputs ``x``: the mean of
    the model's lesion class on each image and on its left-right mirror, mirrored back."""
    direct = np.asarray(predict(x))[..., 1]
    mirrored = np.asarray(predict(np.ascontiguousarray(x[:, :, ::-1])))[..., 1][:, :, ::-1]
    return np.asarray((direct + mirrored) / 2, dtype=np.float32)


class Decision(Protocol):
    """What a release's metadata says of its threshold (``models.metadata.Decision``)."""

    @property
    def threshold(self) -> float: ...


def release_threshold(decision: Decision | None) -> float:
    """The finding threshold of a release: the one its metadata names, else :data:`THRESHOLD`."""
    return THRESHOLD if decision is None else float(decision.threshold)


def finding_rule(threshold: float = THRESHOLD) -> dict[str, float | int]:
    """The finding rule's parameters as an edge event and a model report record them."""
    return {"threshold": threshold, "min_area_model_px": MIN_AREA_MODEL_PX, "input_size": INPUT_SIZE}


def to_image(prob: np.ndarray, box: Letterbox) -> np.ndarray:
    """Model-grid probabilities ``(INPUT_SIZE, INPUT_SIZE)`` back on the image's pixels ``(height, width)``."""
    p = np.asarray(prob, dtype=np.float32)
    if p.shape != (INPUT_SIZE, INPUT_SIZE):
        raise ValueError(f"probabilities must be ({INPUT_SIZE}, {INPUT_SIZE}), got {p.shape}")
    square = _resize(p, box.side) if box.side != INPUT_SIZE else p
    return np.asarray(square[box.top:box.top + box.height, box.left:box.left + box.width])


def _sample(prob: np.ndarray, box: Letterbox, rows: slice, cols: slice) -> np.ndarray:
    """``prob`` (model grid) bilinearly sampled at the image pixels ``rows`` x ``cols`` (pixel centres
    mapped through the letterbox, edges aligned as in :func:`_resize`)."""
    scale = INPUT_SIZE / box.side
    r = (np.arange(rows.start, rows.stop) + box.top + 0.5) * scale - 0.5
    c = (np.arange(cols.start, cols.stop) + box.left + 0.5) * scale - 0.5
    rr, cc = np.meshgrid(r, c, indexing="ij")
    return np.asarray(ndimage.map_coordinates(prob, [rr, cc], order=1, mode="nearest"), dtype=np.float32)


def lesions(prob: np.ndarray, box: Letterbox, spacing_mm: tuple[float, float] | None = None,
            threshold: float = THRESHOLD) -> tuple[np.ndarray, list[Lesion]]:
    """``(union mask, lesions)`` in the image's pixels by the finding rule (module docstring); another
    ``threshold`` than the rule's is for studying the rule only.

    Components are found on the model's grid; each is then sampled back onto the image's pixels only
    within its own bounding box, so the cost follows the lesions' size, not the image's.
    """
    p = np.asarray(prob, dtype=np.float32)
    if p.shape != (INPUT_SIZE, INPUT_SIZE):
        raise ValueError(f"probabilities must be ({INPUT_SIZE}, {INPUT_SIZE}), got {p.shape}")
    labels, n = ndimage.label(p >= threshold, structure=_SQUARE)
    union = np.zeros((box.height, box.width), dtype=bool)
    if n == 0:
        return union, []
    areas = np.bincount(labels.ravel(), minlength=n + 1)
    per_image_px = box.side / INPUT_SIZE
    found: list[Lesion] = []
    for k, sl in enumerate(ndimage.find_objects(labels), start=1):
        if sl is None or areas[k] < MIN_AREA_MODEL_PX:
            continue
        # this component's probabilities; other components' above-threshold pixels do not bleed in
        own = np.where((labels == k) | (labels == 0), p, 0.0).astype(np.float32)
        r0 = max(0, int(np.floor((sl[0].start - 1) * per_image_px)) - box.top)
        r1 = min(box.height, int(np.ceil((sl[0].stop + 1) * per_image_px)) - box.top)
        c0 = max(0, int(np.floor((sl[1].start - 1) * per_image_px)) - box.left)
        c1 = min(box.width, int(np.ceil((sl[1].stop + 1) * per_image_px)) - box.left)
        if r1 <= r0 or c1 <= c0:
            continue  # entirely in the padding
        patch = _sample(own, box, slice(r0, r1), slice(c0, c1))
        inside = patch >= threshold
        area = int(inside.sum())
        if area == 0:
            continue
        mask = np.zeros_like(union)
        mask[r0:r1, c0:c1] = inside
        union |= mask
        rows, cols = np.nonzero(inside)
        bbox = (c0 + int(cols.min()), r0 + int(rows.min()), c0 + int(cols.max()), r0 + int(rows.max()))
        area_mm2 = float(area * spacing_mm[0] * spacing_mm[1]) if spacing_mm else None
        found.append(Lesion(mask, area, area_mm2, float(patch[inside].mean()), bbox))
    found.sort(key=lambda lesion: -lesion.area_px)
    return union, found
