"""Binary masks on the wire: run-length encoding of a row-major mask, as carried by lesion truth and
lesion events (``detail.mask_rle`` with ``detail.shape = [height, width]``).

``runs`` alternate background and foreground run lengths, row-major, always starting with a
background run (0 when the first pixel is foreground), and sum to ``height * width``. A 128x128
mask with one lesion takes a few dozen numbers; a mask a viewer draws needs only this and the shape.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from iomt.wire.errors import DecodeError

#: Most runs a decoder accepts (a mask of alternating pixels of a 512x512 image would need 262,144).
MAX_RUNS = 1 << 20


def encode_rle(mask: np.ndarray) -> list[int]:
    """Run lengths of the row-major ``mask`` (any shape, truthy = foreground), background first."""
    flat = np.asarray(mask, dtype=bool).ravel()
    if flat.size == 0:
        return []
    bounds = np.concatenate([[0], np.flatnonzero(flat[1:] != flat[:-1]) + 1, [flat.size]])
    runs: list[int] = np.diff(bounds).astype(int).tolist()
    return [0, *runs] if flat[0] else runs


def decode_rle(runs: Sequence[int], shape: Sequence[int]) -> np.ndarray:
    """The boolean mask of ``shape`` (height, width) that ``runs`` encode; ``DecodeError`` when the runs are
    not non-negative integers summing to the mask's size."""
    try:
        height, width = (int(v) for v in shape)
    except (TypeError, ValueError):
        raise DecodeError("shape", f"must be [height, width], got {shape!r}") from None
    if height < 1 or width < 1:
        raise DecodeError("shape", f"must be positive, got {[height, width]}")
    if len(runs) > MAX_RUNS:
        raise DecodeError("mask_rle", f"{len(runs)} runs; at most {MAX_RUNS}")
    if any(isinstance(r, bool) or not isinstance(r, (int, np.integer)) for r in runs):
        raise DecodeError("mask_rle", "runs must be integers")
    lengths = np.asarray(runs, dtype=np.int64)
    if lengths.size and lengths.min() < 0:
        raise DecodeError("mask_rle", "runs must not be negative")
    if int(lengths.sum()) != height * width:
        raise DecodeError("mask_rle", f"runs cover {int(lengths.sum())} pixels, the {height}x{width} mask has"
                          f" {height * width}")
    values = (np.arange(lengths.size) % 2).astype(bool)
    return np.repeat(values, lengths).reshape(height, width)
