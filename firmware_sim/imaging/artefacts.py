"""What scanners put on images besides anatomy: burnt-in text, caliper marks, vignetting, and the
smooth random fields the phantoms build textures from.

Overlays are drawn after the lesion mask is fixed and never change it: a model that reads a caliper
or a label as a lesion is wrong on these images, as on real ones.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

# A 3x5 bitmap font: enough glyphs for scanner labels (depth, gain, frequency, dates, side markers).
_FONT = {
    "0": "111101101101111", "1": "010110010010111", "2": "111001111100111", "3": "111001111001111",
    "4": "101101111001001", "5": "111100111001111", "6": "111100111101111", "7": "111001010010010",
    "8": "111101111101111", "9": "111101111001111", "A": "010101111101101", "B": "110101110101110",
    "C": "111100100100111", "D": "110101101101110", "E": "111100110100111", "G": "111100101101111",
    "H": "101101111101101", "L": "100100100100111", "M": "101111111101101", "P": "111101111100100",
    "R": "110101110101101", "S": "111100111001111", "T": "111010010010010", "U": "101101101101111",
    "Z": "111001010100111", "c": "000111100100111", "m": "000111111101101", ".": "000000000000010",
    ":": "000010000010000", "/": "001001010100100", "-": "000000111000000", " ": "000000000000000",
    "%": "101001010100101", "x": "000101010101000",
}
_GLYPHS = {c: np.array([int(b) for b in bits], dtype=bool).reshape(5, 3) for c, bits in _FONT.items()}
_WORDS = ("GAIN", "DR", "MHZ", "cm", "THI", "ABD", "L", "R", "AP", "PA", "MI", "TIS", "FR", "HZ", "DEPTH")


def smooth_field(rng: np.random.Generator, shape: tuple[int, int], sigma: float | tuple[float, float]) -> np.ndarray:
    """Gaussian random field with unit standard deviation, correlated over ``sigma`` pixels."""
    field = ndimage.gaussian_filter(rng.standard_normal(shape), sigma, mode="wrap")
    sd = field.std()
    return np.asarray(field / sd if sd > 0 else field)


def random_label(rng: np.random.Generator) -> str:
    parts = []
    for _ in range(int(rng.integers(1, 4))):
        kind = rng.integers(0, 3)
        if kind == 0:
            parts.append(str(rng.choice(_WORDS)))
        elif kind == 1:
            parts.append(f"{rng.uniform(0, 99):.1f}")
        else:
            parts.append(f"{int(rng.integers(1, 13)):02d}/{int(rng.integers(1, 29)):02d}")
    return " ".join(parts)


def draw_text(img: np.ndarray, text: str, x: int, y: int, value: float, scale: int = 1) -> None:
    """Burn ``text`` into ``img`` (in place) with its top-left corner at ``(x, y)``."""
    for i, ch in enumerate(text):
        glyph = _GLYPHS.get(ch, _GLYPHS.get(ch.upper(), _GLYPHS[" "]))
        if scale > 1:
            glyph = np.kron(glyph, np.ones((scale, scale), dtype=bool))
        gx = x + i * 4 * scale
        h, w = glyph.shape
        y0, x0 = max(0, y), max(0, gx)
        y1, x1 = min(img.shape[0], y + h), min(img.shape[1], gx + w)
        if y1 <= y0 or x1 <= x0:
            continue
        region = glyph[y0 - y:y1 - y, x0 - gx:x1 - gx]
        img[y0:y1, x0:x1][region] = value


def text_overlays(rng: np.random.Generator, img: np.ndarray, count: int) -> None:
    """``count`` labels at the image's corners and edges, where scanners burn them in."""
    size = img.shape[0]
    for _ in range(count):
        scale = 1 if size < 160 or rng.random() < 0.6 else 2
        text = random_label(rng)
        width = len(text) * 4 * scale
        x = int(rng.choice([1, max(1, img.shape[1] - width - 1), int(rng.integers(0, max(1, img.shape[1] - width)))]))
        y = int(rng.choice([1, 7 * scale + 2, img.shape[0] - 6 * scale, int(rng.integers(0, img.shape[0] - 5))]))
        draw_text(img, text, x, y, float(rng.uniform(0.75, 1.0)), scale)


def calipers(rng: np.random.Generator, img: np.ndarray, ends: tuple[tuple[int, int], tuple[int, int]]) -> None:
    """Two '+' marks at ``ends`` ((row, col) each), joined by a dotted line half the time."""
    value = float(rng.uniform(0.8, 1.0))
    arm = 2 if img.shape[0] < 200 else 3
    (r0, c0), (r1, c1) = ends
    if rng.random() < 0.5:
        n = int(max(abs(r1 - r0), abs(c1 - c0)) // 3) + 1
        for t in np.linspace(0.0, 1.0, n)[1:-1]:
            r, c = round(r0 + t * (r1 - r0)), round(c0 + t * (c1 - c0))
            if 0 <= r < img.shape[0] and 0 <= c < img.shape[1]:
                img[r, c] = value
    for r, c in ends:
        img[max(0, r - arm):r + arm + 1, c:c + 1] = value
        img[r:r + 1, max(0, c - arm):c + arm + 1] = value


def vignette(xx: np.ndarray, yy: np.ndarray, strength: float, cx: float = 0.5, cy: float = 0.5) -> np.ndarray:
    """Multiplicative fall-off towards the corners: 1 at ``(cx, cy)``, ``1 - strength`` at distance 0.7."""
    r2 = ((xx - cx) ** 2 + (yy - cy) ** 2) / 0.49
    return np.asarray(np.clip(1.0 - strength * r2, 0.0, 1.0))
