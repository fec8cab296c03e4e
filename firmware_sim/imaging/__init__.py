"""Grayscale imaging phantoms with lesion masks, varied enough that a model must find the lesion, not a
trick of the generator.

Two modalities (:mod:`.ultrasound`, :mod:`.xray`). A device draws its :class:`Scanner` once (field
of view, hence pixel spacing; probe; speckle grain or blur; noise; gain and gamma; depth gain;
vignetting; how often it burns in text and calipers), then every image draws its anatomy, its
lesions (none, or one to three: ellipse, lobulated, spiculated or irregular; from ~3 px to ~29 px
radius on a 128-px image; hypo-/an-/hyperechoic or subtle on ultrasound, with shadowing or
enhancement, dense or faint on X-ray) and its artefacts (reflectors with shadows, reverberation,
electrodes, collimation, text, calipers), which also appear on images without a lesion.

The truth of an image is its :class:`Phantom`: the union mask of its lesions, each lesion's shape,
appearance, size and contrast, the artefacts drawn and the pixel spacing.
"""

from __future__ import annotations

import numpy as np

from firmware_sim.imaging import ultrasound, xray
from firmware_sim.imaging.scene import (
    MODALITIES,
    LesionInfo,
    Phantom,
    Scanner,
    draw_scanner,
    lesion_count,
)
from iomt.wire.masks import decode_rle, encode_rle

#: How often an image with a lesion is drawn again before an image without one is returned instead.
MAX_ATTEMPTS = 40

__all__ = [
    "MODALITIES",
    "LesionInfo",
    "Phantom",
    "Scanner",
    "draw_scanner",
    "mask_bbox",
    "mask_rle",
    "phantom",
    "render_phantom",
    "rle_mask",
]


def render_phantom(rng: np.random.Generator, scanner: Scanner, size: int = 128, lesion: bool = True,
                   n_lesions: int | None = None) -> Phantom:
    """One image of ``scanner``'s modality: with 1-3 lesions (or ``n_lesions``) when ``lesion``, else none.

    Every lesion drawn meets the visibility rule (:mod:`firmware_sim.imaging.visibility`: a reader could
    see it in the image as the model receives it): an image with a lesion below it is drawn again, up to
    ``MAX_ATTEMPTS`` times, then an image without a lesion is returned. Rarely, too, no place is found
    for a lesion; ask again if an image with a lesion is required (:attr:`Phantom.has_lesion` tells).
    """
    if size < 32:
        raise ValueError(f"size must be at least 32 pixels, got {size}")
    count = (n_lesions if n_lesions is not None else lesion_count(rng)) if lesion else 0
    render = ultrasound.render if scanner.modality == "ultrasound" else xray.render
    if count == 0:
        return render(rng, size, scanner, 0)
    for _ in range(MAX_ATTEMPTS):
        p = render(rng, size, scanner, count)
        if p.all_visible:
            return p
    return render(rng, size, scanner, 0)


def phantom(rng: np.random.Generator, size: int = 128, modality: str = "ultrasound",
            lesion: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``(image uint8 (size, size), mask bool (size, size))`` from a random scanner; the mask is empty
    without a lesion. A lesion is always present when asked for."""
    scanner = draw_scanner(rng, modality)
    for _ in range(10):
        p = render_phantom(rng, scanner, size, lesion)
        if p.has_lesion == lesion:
            break
    return p.image, p.mask


def mask_bbox(mask: np.ndarray) -> list[int] | None:
    """``[x0, y0, x1, y1]`` of the mask (inclusive), or ``None`` when empty."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None
    return [int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())]


def mask_rle(mask: np.ndarray) -> list[int]:
    """Run-length encoding of the row-major mask (:func:`iomt.wire.masks.encode_rle`)."""
    return encode_rle(mask)


def rle_mask(runs: list[int], shape: tuple[int, int]) -> np.ndarray:
    """Inverse of :func:`mask_rle` (:func:`iomt.wire.masks.decode_rle`)."""
    return decode_rle(runs, shape)
