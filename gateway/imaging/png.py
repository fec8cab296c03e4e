"""Images and masks as PNG (Pillow): what a browser draws."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image as PilImage


def gray_png(pixels: np.ndarray) -> bytes:
    """An 8-bit grayscale PNG of ``pixels`` (height, width) uint8."""
    out = io.BytesIO()
    PilImage.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8), mode="L").save(out, format="PNG", optimize=False)
    return out.getvalue()


def mask_png(mask: np.ndarray) -> bytes:
    """A mask as an 8-bit grayscale PNG: 255 inside, 0 outside."""
    return gray_png(np.where(np.asarray(mask, dtype=bool), 255, 0).astype(np.uint8))
