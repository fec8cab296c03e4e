"""B-mode ultrasound phantoms: a sector, curvilinear or linear field of view over layered tissue,
correlated Rayleigh speckle, depth gain, reverberation, log compression; lesions that are
hypoechoic, anechoic, hyperechoic or barely different (with a rim or halo), with acoustic shadowing
or enhancement behind them. Shadowing and bright reflectors also occur without any lesion, so
neither is a cue the model may take for a lesion."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from firmware_sim.imaging import artefacts as art
from firmware_sim.imaging.scene import US_APPEARANCES, LesionInfo, Phantom, Scanner, measured
from firmware_sim.imaging.shapes import SHAPES, draw_outline, draw_radius, radial_field, soft_inside


@dataclass(frozen=True, slots=True)
class _Geometry:
    fov: np.ndarray  # bool, inside the field of view
    depth: np.ndarray  # 0 at the transducer, 1 at the deepest row of the field of view
    lateral: np.ndarray  # beam position, -1 .. 1 across the field of view


def _geometry(rng: np.random.Generator, probe: str, xx: np.ndarray, yy: np.ndarray) -> _Geometry:
    if probe == "linear":
        margin = rng.uniform(0.04, 0.15)
        top = rng.uniform(0.03, 0.08)
        fov = (xx > margin) & (xx < 1 - margin) & (yy > top) & (yy < 0.98)
        return _Geometry(fov, np.clip((yy - top) / (0.98 - top), 0, 1), np.clip((xx - 0.5) / (0.5 - margin), -1, 1))
    apex = rng.uniform(0.02, 0.1) if probe == "sector" else rng.uniform(0.35, 0.6)
    half = rng.uniform(0.5, 0.75) if probe == "sector" else rng.uniform(0.4, 0.6)
    r = np.hypot(xx - 0.5, yy + apex)
    theta = np.arctan2(xx - 0.5, yy + apex)
    r0 = apex + (0.04 if probe == "sector" else 0.03)
    r1 = apex + 0.97
    fov = (r > r0) & (r < r1) & (np.abs(theta) < half)
    return _Geometry(fov, np.clip((r - r0) / (r1 - r0), 0, 1), np.clip(theta / half, -1, 1))


def _tissue(rng: np.random.Generator, g: _Geometry, size: int) -> np.ndarray:
    """Echogenicity of the background: layers with wavy boundaries, bright fasciae, smooth texture."""
    n = int(rng.integers(2, 5))
    bounds = np.sort(rng.uniform(0.08, 0.9, n))
    wave = art.smooth_field(rng, (size, size), (size / 6, size / 3))
    level = rng.uniform(0.3, 0.75, n + 1)
    echo = np.full(g.depth.shape, level[0])
    for i, b in enumerate(bounds):
        edge = b + 0.03 * wave
        echo = np.where(g.depth > edge, level[i + 1], echo)
        if rng.random() < 0.6:
            echo = echo + rng.uniform(0.2, 0.6) * (np.abs(g.depth - edge) < rng.uniform(0.004, 0.012))
    texture = art.smooth_field(rng, (size, size), size / rng.uniform(10, 30))
    return np.asarray(echo * np.exp(rng.uniform(0.05, 0.25) * texture))


def _posterior(g: _Geometry, region: np.ndarray, factor: float, below: float) -> np.ndarray:
    """Multiplier that darkens (factor < 1) or brightens (> 1) the beams through ``region`` beyond depth
    ``below``, fading in over a little depth and at the column's sides."""
    lat = g.lateral[region]
    lo, hi = float(lat.min()), float(lat.max())
    width = max(hi - lo, 1e-3)
    side = np.clip(1 - np.maximum(lo - g.lateral, g.lateral - hi) / (0.25 * width), 0, 1)
    side = np.where((g.lateral >= lo) & (g.lateral <= hi), 1.0, side)
    ramp = np.clip((g.depth - below) / 0.05, 0, 1)
    return np.asarray(1.0 + (factor - 1.0) * side * ramp)


def _lesion(rng: np.random.Generator, g: _Geometry, xx: np.ndarray, yy: np.ndarray, taken: np.ndarray,
            size: int) -> tuple[np.ndarray, np.ndarray, LesionInfo] | None:
    """One lesion: (echo multiplier, mask, info), or None when no free place was found."""
    candidates = np.flatnonzero(g.fov.ravel() & (g.depth.ravel() > 0.12) & (g.depth.ravel() < 0.85)
                                & (np.abs(g.lateral.ravel()) < 0.8))
    for _ in range(20):
        at = int(rng.choice(candidates))
        cy, cx = (at // size + 0.5) / size, (at % size + 0.5) / size
        outline = draw_outline(rng, str(rng.choice(SHAPES)), cx, cy, draw_radius(rng))
        d = radial_field(outline, xx, yy)
        mask = (d <= 1.0) & g.fov
        if mask.sum() >= 12 and not (mask & taken).any() and mask.sum() > 0.8 * (d <= 1.0).sum():
            break
    else:
        return None
    appearance = str(rng.choice(US_APPEARANCES, p=[0.4, 0.15, 0.25, 0.2]))
    contrast = {
        "hypo": rng.uniform(0.15, 0.55), "anechoic": rng.uniform(0.03, 0.12), "hyper": rng.uniform(1.6, 2.6),
        "subtle": rng.uniform(0.5, 0.7) if rng.random() < 0.5 else rng.uniform(1.4, 1.7),
    }[appearance]
    w = soft_inside(d, rng.uniform(0.0, 0.3))
    if rng.random() < 0.5:  # heterogeneous inside
        w = w * np.exp(0.25 * art.smooth_field(rng, (size, size), 2.0))
    mult = contrast ** np.clip(w, 0, 1.5)  # positive however strong the texture
    if appearance == "subtle" or rng.random() < 0.25:  # echogenic rim or dark halo
        rim = rng.uniform(0.4, 1.0) if rng.random() < 0.6 else -rng.uniform(0.3, 0.6)
        mult = mult * (1.0 + rim * np.exp(-0.5 * ((d - 1.1) / 0.06) ** 2))
    weights = {"hypo": (0.35, 0.25), "anechoic": (0.05, 0.7), "hyper": (0.3, 0.1), "subtle": (0.15, 0.15)}
    shadow_p, enh_p = weights[appearance]
    u = rng.random()
    posterior = "shadow" if u < shadow_p else "enhancement" if u < shadow_p + enh_p else "none"
    if posterior != "none":
        factor = rng.uniform(0.2, 0.6) if posterior == "shadow" else rng.uniform(1.25, 1.7)
        below = float(g.depth[mask].max()) - 0.02
        mult = mult * np.where(mask, 1.0, _posterior(g, mask, factor, below))
    info = LesionInfo(outline.kind, appearance, outline.radius * size, float(contrast), int(mask.sum()), posterior)
    return mult, mask, info


def _reflector(rng: np.random.Generator, g: _Geometry, xx: np.ndarray, yy: np.ndarray) -> np.ndarray:
    """A bright curved reflector (bone, calcification, gas) with a shadow or not: no lesion."""
    depth = rng.uniform(0.2, 0.8)
    lat = rng.uniform(-0.7, 0.7)
    half = rng.uniform(0.05, 0.25)
    band = (np.abs(g.depth - depth - 0.03 * (g.lateral - lat) ** 2) < rng.uniform(0.008, 0.02))
    band &= np.abs(g.lateral - lat) < half
    mult = 1.0 + rng.uniform(1.0, 2.5) * band
    if rng.random() < 0.7 and band.any():
        mult = mult * _posterior(g, band, rng.uniform(0.15, 0.5), depth + 0.01)
    return np.asarray(mult)


def render(rng: np.random.Generator, size: int, scanner: Scanner, n_lesions: int) -> Phantom:
    """An ultrasound phantom of ``size`` x ``size`` with up to ``n_lesions`` lesions."""
    yy, xx = (np.mgrid[0:size, 0:size] + 0.5) / size
    g = _geometry(rng, scanner.probe, xx, yy)
    echo = _tissue(rng, g, size)
    extras: list[str] = []
    if rng.random() < 0.3:
        echo = echo * _reflector(rng, g, xx, yy)
        extras.append("reflector")
    mask = np.zeros((size, size), dtype=bool)
    infos: list[LesionInfo] = []
    masks: list[np.ndarray] = []
    for _ in range(n_lesions):
        drawn = _lesion(rng, g, xx, yy, mask, size)
        if drawn is None:
            continue
        mult, m, info = drawn
        echo = echo * mult
        mask |= m
        masks.append(m)
        infos.append(info)
    scale = scanner.grain * size / 128
    z = (art.smooth_field(rng, (size, size), (0.7 * scale, 1.4 * scale))
         + 1j * art.smooth_field(rng, (size, size), (0.7 * scale, 1.4 * scale)))
    img = echo * np.abs(z) / np.sqrt(2)
    img = img * np.exp(scanner.depth_gain * (2 * g.depth - 1) - 0.3 * g.depth)
    if scanner.reverberation > 0:
        step = rng.uniform(0.04, 0.08)
        k = np.arange(1, 6)[:, None, None]
        bands = np.exp(-0.5 * ((g.depth[None] - k * step) / 0.006) ** 2) * np.exp(-0.6 * k)
        img = img + scanner.reverberation * 3 * bands.sum(axis=0)
        extras.append("reverberation")
    img = np.log1p(4.0 * scanner.gain * img) / np.log1p(8.0)
    img = np.clip(img, 0, 1) ** scanner.gamma
    img = img * (1 - scanner.vignetting * np.abs(g.lateral) ** 3) * art.vignette(xx, yy, scanner.vignetting / 2)
    img = img + scanner.noise * rng.standard_normal((size, size))
    img = np.where(g.fov, np.clip(img, 0, 1), 0.0)
    if scanner.depth_gain != 0:
        extras.append("depth_gain")
    if scanner.vignetting > 0.05:
        extras.append("vignetting")
    extras += overlays(rng, img, scanner, mask, g.fov)
    pixels = np.clip(np.round(img * 255), 0, 255).astype(np.uint8)
    return Phantom(pixels, mask, "ultrasound", scanner.spacing_mm(size), measured(infos, pixels, masks, g.fov),
                   tuple(extras), g.fov)


def overlays(rng: np.random.Generator, img: np.ndarray, scanner: Scanner, mask: np.ndarray,
             fov: np.ndarray) -> list[str]:
    """Burn in text and calipers (in place), as often with a lesion as without; returns their names."""
    added = []
    if rng.random() < scanner.text_rate:
        art.text_overlays(rng, img, int(rng.integers(1, 5)))
        added.append("text")
    if rng.random() < scanner.caliper_rate:
        size = img.shape[0]
        if mask.any() and rng.random() < 0.5:  # measuring a lesion: marks at its extremes
            rows, cols = np.nonzero(mask)
            i, j = int(np.argmin(cols)), int(np.argmax(cols))
            ends = ((int(rows[i]), max(0, int(cols[i]) - 2)), (int(rows[j]), min(size - 1, int(cols[j]) + 2)))
        else:  # measuring something else
            inside = np.flatnonzero(fov.ravel())
            a, b = rng.choice(inside, 2)
            ends = ((int(a) // size, int(a) % size), (int(b) // size, int(b) % size))
        art.calipers(rng, img, ends)
        added.append("calipers")
    return added
