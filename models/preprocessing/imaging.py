"""Images in and lesions out of the segmentation model, shared by training and the edge.

In: any grayscale (or colour, reduced to its luminance) image of any size is padded to a square
(centred, black: ultrasound and X-ray backgrounds are black, and padding keeps the aspect ratio, so
a round lesion stays round), resampled to ``INPUT_SIZE`` x ``INPUT_SIZE`` (bilinear, with a Gaussian
anti-alias when shrinking) and scaled to 0..1 by its own 99th percentile (at least ``MIN_WHITE``), so a
scanner's gain does not change what the model sees.

Out: the model's lesion probabilities go back to the image's own pixels by the inverse mapping.
**The finding rule** (what the edge reports and what detection is scored on): pixels with
probability >= ``THRESHOLD`` form 8-connected components; a component is a lesion when it covers at
least ``MIN_AREA_MODEL_PX`` pixels of the model's grid (so the rule does not depend on the image's
size). Each lesion has its area in pixels (and mm² when the spacing is known), its bounding box and
its confidence: the mean probability over its pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

INPUT_SIZE = 96
#: Version of the input this module makes (semantic, recorded with each model: a new major is a new
#: input format) and the majors it still makes.
INPUT_VERSION = "1.0.0"
RUNS_MAJORS = ("1",)
#: The 99th-percentile pixel value an image is scaled by is at least this (a near-black image stays dark).
MIN_WHITE = 64.0
THRESHOLD = 0.5
MIN_AREA_MODEL_PX = 8
_SQUARE = ndimage.generate_binary_structure(2, 2)


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
        side = max(height, width)
        return cls(height, width, side, (side - height) // 2, (side - width) // 2)

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


def model_input(pixels: np.ndarray) -> tuple[np.ndarray, Letterbox]:
    """``(x, letterbox)``: ``x`` float32 ``(INPUT_SIZE, INPUT_SIZE, 1)`` in 0..1 from an image of any size."""
    gray = to_gray(pixels)
    box = Letterbox.of(*gray.shape)
    square = np.zeros((box.side, box.side), dtype=np.float32)
    square[box.top:box.top + box.height, box.left:box.left + box.width] = gray
    small = _resize(square, INPUT_SIZE)
    white = max(float(np.percentile(small, 99)), MIN_WHITE)
    x = np.clip(small / white, 0.0, 1.0)
    return x[..., None].astype(np.float32), box


def model_target(mask: np.ndarray) -> np.ndarray:
    """A reference mask in the model's grid (uint8 0/1, ``(INPUT_SIZE, INPUT_SIZE)``), for training."""
    m = np.asarray(mask, dtype=bool)
    box = Letterbox.of(*m.shape)
    square = np.zeros((box.side, box.side), dtype=np.float32)
    square[box.top:box.top + box.height, box.left:box.left + box.width] = m
    return (_resize(square, INPUT_SIZE) >= 0.5).astype(np.uint8)


def to_image(prob: np.ndarray, box: Letterbox) -> np.ndarray:
    """Model-grid probabilities ``(INPUT_SIZE, INPUT_SIZE)`` back on the image's pixels ``(height, width)``."""
    p = np.asarray(prob, dtype=np.float32)
    if p.shape != (INPUT_SIZE, INPUT_SIZE):
        raise ValueError(f"probabilities must be ({INPUT_SIZE}, {INPUT_SIZE}), got {p.shape}")
    square = _resize(p, box.side) if box.side != INPUT_SIZE else p
    return np.asarray(square[box.top:box.top + box.height, box.left:box.left + box.width])


def lesions(prob: np.ndarray, box: Letterbox, spacing_mm: tuple[float, float] | None = None
            ) -> tuple[np.ndarray, list[Lesion]]:
    """``(union mask, lesions)`` in the image's pixels by the finding rule (module docstring)."""
    p = to_image(prob, box)
    labels, n = ndimage.label(p >= THRESHOLD, structure=_SQUARE)
    union = np.zeros(p.shape, dtype=bool)
    if n == 0:
        return union, []
    min_area = MIN_AREA_MODEL_PX / box.model_px_per_image_px ** 2
    areas = np.bincount(labels.ravel(), minlength=n + 1)
    sums = np.bincount(labels.ravel(), weights=p.ravel(), minlength=n + 1)
    found: list[Lesion] = []
    for k, sl in enumerate(ndimage.find_objects(labels), start=1):
        if sl is None or areas[k] < min_area:
            continue
        mask = labels == k
        union |= mask
        area_mm2 = float(areas[k] * spacing_mm[0] * spacing_mm[1]) if spacing_mm else None
        bbox = (sl[1].start, sl[0].start, sl[1].stop - 1, sl[0].stop - 1)
        found.append(Lesion(mask, int(areas[k]), area_mm2, float(sums[k] / areas[k]), bbox))
    found.sort(key=lambda lesion: -lesion.area_px)
    return union, found
