"""Chest X-ray-like projections: body, two lung fields of varied shape, heart shadow, diaphragm, ribs
and clavicles, lung vessel texture, detector blur, quantum noise, collimation and the heel effect;
nodules of every shape, dense or faint. ECG electrodes (bright rings) and their leads appear with or
without nodules: a bright round thing is not a nodule by itself."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from firmware_sim.imaging import artefacts as art
from firmware_sim.imaging.scene import XRAY_APPEARANCES, LesionInfo, Phantom, Scanner, measured
from firmware_sim.imaging.shapes import SHAPES, draw_outline, draw_radius, radial_field, soft_inside
from firmware_sim.imaging.ultrasound import overlays


def _lungs(rng: np.random.Generator, xx: np.ndarray, yy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(lung field as 0..1, body as 0..1) with a little asymmetry and rotation."""
    tilt = rng.normal(0, 0.03)
    trunk = draw_outline(rng, "ellipse", 0.5 + rng.normal(0, 0.02), 0.56, rng.uniform(0.42, 0.5))
    trunk = type(trunk)("ellipse", trunk.cx, trunk.cy, trunk.radius, rng.uniform(0.75, 1.0), rng.normal(0, 0.03),
                        ((2, float(rng.uniform(0.0, 0.08)), float(rng.uniform(0, 2 * np.pi))),), ())
    body = soft_inside(radial_field(trunk, xx, yy), 0.05)
    lungs = np.zeros_like(xx)
    for side in (-1, 1):
        cx = 0.5 + side * rng.uniform(0.16, 0.22) + tilt
        outline = draw_outline(rng, "lobulated", cx, rng.uniform(0.46, 0.52), rng.uniform(0.16, 0.21))
        outline = type(outline)(outline.kind, cx, outline.cy, outline.radius, rng.uniform(0.35, 0.55),
                                side * rng.uniform(0.0, 0.15), outline.harmonics[:1], ())
        lungs = np.maximum(lungs, soft_inside(radial_field(outline, xx, yy), 0.08))
    return lungs, body


def _nodule(rng: np.random.Generator, lungs: np.ndarray, body: np.ndarray, xx: np.ndarray, yy: np.ndarray,
            taken: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, LesionInfo] | None:
    candidates = np.flatnonzero(lungs.ravel() > 0.9)
    if candidates.size == 0:
        return None
    for _ in range(20):
        at = int(rng.choice(candidates))
        cy, cx = (at // size + 0.5) / size, (at % size + 0.5) / size
        outline = draw_outline(rng, str(rng.choice(SHAPES)), cx, cy, draw_radius(rng, 0.04, 0.15))
        d = radial_field(outline, xx, yy)
        mask = (d <= 1.0) & (body > 0.5)
        if mask.sum() >= 12 and not (ndimage.binary_dilation(mask, iterations=2) & taken).any():
            break
    else:
        return None
    appearance = str(rng.choice(XRAY_APPEARANCES, p=[0.6, 0.4]))
    contrast = rng.uniform(0.25, 0.5) if appearance == "dense" else rng.uniform(0.14, 0.25)
    edge = rng.uniform(0.05, 0.35)
    profile = soft_inside(d, edge) * (1.0 - 0.35 * np.clip(d, 0, 1) ** 2 * rng.uniform(0, 1))
    if rng.random() < 0.3:  # calcified or cavitating texture
        profile = profile * np.exp(0.2 * art.smooth_field(rng, (size, size), 1.5))
    info = LesionInfo(outline.kind, appearance, outline.radius * size, float(1.0 + contrast), int(mask.sum()))
    return contrast * profile, mask, info


def _ribs(rng: np.random.Generator, xx: np.ndarray, yy: np.ndarray) -> np.ndarray:
    ribs = np.zeros_like(xx)
    start, step = rng.uniform(0.18, 0.26), rng.uniform(0.075, 0.1)
    curve, width = rng.uniform(0.6, 1.2), rng.uniform(0.008, 0.016)
    for k in range(int(rng.integers(5, 9))):
        y0 = start + step * k
        for side in (-1, 1):
            arc = y0 + curve * (xx - 0.5 - side * 0.12) ** 2 - 0.05
            ribs = np.maximum(ribs, np.exp(-0.5 * ((yy - arc) / width) ** 2) * ((xx - 0.5) * side > 0.03))
    for side in (-1, 1):  # clavicles
        line = 0.16 + 0.12 * np.abs(xx - 0.5) + rng.normal(0, 0.01)
        ribs = np.maximum(ribs, np.exp(-0.5 * ((yy - line) / 0.012) ** 2) * ((xx - 0.5) * side > 0.05)
                          * (np.abs(xx - 0.5) < 0.35))
    return ribs


def _electrodes(rng: np.random.Generator, img: np.ndarray, xx: np.ndarray, yy: np.ndarray, size: int) -> np.ndarray:
    for _ in range(int(rng.integers(1, 4))):
        cx, cy, r = rng.uniform(0.15, 0.85), rng.uniform(0.15, 0.85), rng.uniform(0.02, 0.04)
        ring = np.abs(np.hypot(xx - cx, yy - cy) - r) < 0.006 + 1.0 / size
        img = img + rng.uniform(0.3, 0.6) * ring
        ex, ey = rng.uniform(0, 1), rng.choice([0.0, 1.0])  # its lead towards an edge
        t = np.linspace(0, 1, 4 * size)
        rows = np.clip(((cy + (ey - cy) * t) * size).astype(int), 0, size - 1)
        cols = np.clip(((cx + (ex - cx) * t + 0.05 * np.sin(6 * t)) * size).astype(int), 0, size - 1)
        img[rows, cols] += 0.25
    return img


def render(rng: np.random.Generator, size: int, scanner: Scanner, n_lesions: int) -> Phantom:
    """An X-ray phantom of ``size`` x ``size`` with up to ``n_lesions`` nodules."""
    yy, xx = (np.mgrid[0:size, 0:size] + 0.5) / size
    lungs, body = _lungs(rng, xx, yy)
    # attenuation, then displayed as brightness (bone and soft tissue bright, air dark)
    img = 0.05 + 0.55 * body
    img = img - 0.32 * lungs * (1.0 + 0.12 * art.smooth_field(rng, (size, size), size / 12))
    vessels = art.smooth_field(rng, (size, size), (size / 80, size / 40))
    img = img + 0.04 * lungs * np.clip(vessels, 0, None)
    heart = soft_inside(radial_field(draw_outline(rng, "ellipse", 0.5 + rng.uniform(0.0, 0.08),
                                                  rng.uniform(0.62, 0.7), rng.uniform(0.11, 0.16)), xx, yy), 0.2)
    img = img + 0.3 * heart * lungs
    diaphragm = yy > 0.76 + 0.06 * np.cos(6 * (xx - 0.5)) + rng.normal(0, 0.02)
    img = np.where(diaphragm & (body > 0.5), np.maximum(img, 0.55), img)
    img = img + rng.uniform(0.1, 0.22) * _ribs(rng, xx, yy) * body
    mask = np.zeros((size, size), dtype=bool)
    infos: list[LesionInfo] = []
    masks: list[np.ndarray] = []
    for _ in range(n_lesions):
        drawn = _nodule(rng, lungs, body, xx, yy, mask, size)
        if drawn is None:
            continue
        add, m, info = drawn
        img = img + add
        mask |= m
        masks.append(m)
        infos.append(info)
    extras: list[str] = []
    if rng.random() < 0.25:
        img = _electrodes(rng, img, xx, yy, size)
        extras.append("electrodes")
    img = ndimage.gaussian_filter(img, scanner.grain * size / 128)
    img = img * (1.0 + scanner.vignetting * (xx - 0.5) * rng.choice([-1, 1]))  # heel effect
    img = img * art.vignette(xx, yy, scanner.vignetting)
    img = np.clip(img * scanner.gain, 0, 1)
    img = img + scanner.noise * np.sqrt(np.clip(img, 0.01, 1)) * rng.standard_normal((size, size))
    img = np.clip(img, 0, 1) ** scanner.gamma
    if rng.random() < 0.4:  # collimation: dark borders
        edge = int(rng.integers(1, max(2, size // 12)))
        side = int(rng.integers(0, 4))
        img = np.rot90(img, side)
        img[:, :edge] *= 0.15
        img = np.rot90(img, -side)
        extras.append("collimation")
    if scanner.vignetting > 0.05:
        extras.append("vignetting")
    img = np.ascontiguousarray(img)
    valid = body > 0.5
    extras += overlays(rng, img, scanner, mask, valid)
    pixels = np.clip(np.round(img * 255), 0, 255).astype(np.uint8)
    return Phantom(pixels, mask, "xray", scanner.spacing_mm(size), measured(infos, pixels, masks, valid),
                   tuple(extras), valid)
