"""Small grayscale imaging phantoms with and without a lesion, each with its ground-truth mask.

* ``ultrasound``: a sector (fan) image of layered tissue with multiplicative Rayleigh speckle and
  depth attenuation; a lesion is a hypoechoic (dark) ellipse with a thin bright rim and posterior
  acoustic enhancement below it.
* ``xray``: a chest-like projection (body, two darker lung fields, bright rib arcs, quantum noise); a
  lesion is a bright, soft-edged nodule inside a lung.
"""

from __future__ import annotations

import numpy as np

MODALITIES = ("ultrasound", "xray")


def phantom(rng: np.random.Generator, size: int = 128, modality: str = "ultrasound",
            lesion: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``(image uint8 (size, size), mask bool (size, size))``; the mask is empty without a lesion."""
    if modality not in MODALITIES:
        raise ValueError(f"modality must be one of {MODALITIES}, got {modality!r}")
    yy, xx = np.mgrid[0:size, 0:size] / size
    if modality == "ultrasound":
        img, mask = _ultrasound(rng, xx, yy, lesion)
    else:
        img, mask = _xray(rng, xx, yy, lesion)
    return np.clip(img * 255, 0, 255).astype(np.uint8), mask


def _ellipse(xx: np.ndarray, yy: np.ndarray, cx: float, cy: float, rx: float, ry: float, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    u = ((xx - cx) * c + (yy - cy) * s) / rx
    v = (-(xx - cx) * s + (yy - cy) * c) / ry
    return np.asarray(u * u + v * v)


def _ultrasound(
    rng: np.random.Generator, xx: np.ndarray, yy: np.ndarray, lesion: bool
) -> tuple[np.ndarray, np.ndarray]:
    r = np.hypot(xx - 0.5, yy + 0.05)
    theta = np.arctan2(xx - 0.5, yy + 0.05)
    sector = (r > 0.1) & (r < 1.0) & (np.abs(theta) < 0.6)
    layers = 0.35 + 0.15 * np.sin(2 * np.pi * (yy * rng.uniform(2, 4) + rng.uniform()))
    layers += 0.2 * (np.abs(yy - rng.uniform(0.3, 0.4)) < 0.015)  # a bright fascia line
    mask = np.zeros(xx.shape, dtype=bool)
    if lesion:
        cx, cy = rng.uniform(0.35, 0.65), rng.uniform(0.45, 0.75)
        rx, ry = rng.uniform(0.06, 0.14), rng.uniform(0.05, 0.1)
        d = _ellipse(xx, yy, cx, cy, rx, ry, rng.uniform(-0.5, 0.5))
        mask = (d <= 1.0) & sector
        layers = np.where(mask, 0.08, layers)
        layers += 0.25 * ((d > 1.0) & (d < 1.25))
        below = (np.abs(xx - cx) < rx * 0.8) & (yy > cy + ry)
        layers += 0.12 * below  # posterior enhancement
    speckle = rng.rayleigh(0.8, xx.shape)
    img = layers * speckle * np.exp(-1.2 * yy)
    return np.where(sector, img, 0.0), mask


def _xray(rng: np.random.Generator, xx: np.ndarray, yy: np.ndarray, lesion: bool) -> tuple[np.ndarray, np.ndarray]:
    body = _ellipse(xx, yy, 0.5, 0.55, 0.45, 0.5, 0.0) <= 1.0
    img = np.where(body, 0.65, 0.05)
    lungs = []
    for cx in (0.3, 0.7):
        lung = _ellipse(xx, yy, cx + rng.normal(0, 0.01), 0.5, 0.15, 0.3, 0.0) <= 1.0
        lungs.append((cx, lung))
        img = np.where(lung, 0.25, img)
    for k in range(6):  # ribs
        y0 = 0.3 + 0.09 * k
        arc = np.abs(yy - (y0 + 0.25 * (xx - 0.5) ** 2)) < 0.012
        img = img + 0.15 * (arc & body)
    mask = np.zeros(xx.shape, dtype=bool)
    if lesion:
        cx, lung = lungs[int(rng.integers(0, 2))]
        nx, ny = cx + rng.uniform(-0.06, 0.06), rng.uniform(0.35, 0.65)
        radius = rng.uniform(0.03, 0.07)
        d = np.hypot(xx - nx, yy - ny) / radius
        blob = np.exp(-0.5 * (d / 0.8) ** 4)
        img = img + 0.35 * blob * lung
        mask = (d <= 1.0) & lung
    img = img + rng.normal(0, 0.03, xx.shape)
    return img, mask


def mask_bbox(mask: np.ndarray) -> list[int] | None:
    """``[x0, y0, x1, y1]`` of the mask (inclusive), or ``None`` when empty."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None
    return [int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())]


def mask_rle(mask: np.ndarray) -> list[int]:
    """Run-length encoding of the row-major mask: alternating run lengths, starting with a 0-run."""
    flat = mask.ravel()
    if flat.size == 0:
        return []
    bounds = np.concatenate([[0], np.flatnonzero(flat[1:] != flat[:-1]) + 1, [flat.size]])
    runs = np.diff(bounds).astype(int).tolist()
    return [0, *runs] if flat[0] else runs


def rle_mask(runs: list[int], shape: tuple[int, int]) -> np.ndarray:
    """Inverse of :func:`mask_rle`."""
    values = np.arange(len(runs)) % 2
    flat = np.repeat(values, runs)
    out = np.zeros(shape[0] * shape[1], dtype=bool)
    out[: len(flat)] = flat[: len(out)].astype(bool)
    return out.reshape(shape)
