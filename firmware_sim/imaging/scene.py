"""What a phantom is made of: the scanner (settings fixed per device, so a data set split by device
tests on unseen scanners), the lesions drawn on it, and the finished phantom with its truth."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

MODALITIES = ("ultrasound", "xray")
PROBES = ("sector", "curvilinear", "linear")
#: Lesion appearance: ``hypo``/``anechoic``/``hyper``/``subtle`` on ultrasound, ``dense``/``faint`` on X-ray.
US_APPEARANCES = ("hypo", "anechoic", "hyper", "subtle")
XRAY_APPEARANCES = ("dense", "faint")


@dataclass(frozen=True, slots=True)
class Scanner:
    """Per-device acquisition settings (a device keeps them for all its images)."""

    modality: str
    #: field of view height (depth for ultrasound) in millimetres; spacing = fov / size
    fov_mm: float
    #: column spacing / row spacing
    pixel_aspect: float = 1.0
    probe: str = "sector"
    #: speckle grain (ultrasound) or detector blur (X-ray), in pixels of a 128-px image
    grain: float = 1.0
    #: additive noise standard deviation (0..1 image units)
    noise: float = 0.02
    #: overall brightness multiplier and gamma of the display
    gain: float = 1.0
    gamma: float = 1.0
    #: depth-gain error (ultrasound): +/- brightness ramp along depth that TGC did not correct
    depth_gain: float = 0.0
    vignetting: float = 0.0
    #: probability that an image carries each kind of overlay
    text_rate: float = 0.5
    caliper_rate: float = 0.3
    reverberation: float = 0.0

    def spacing_mm(self, size: int) -> tuple[float, float]:
        row = self.fov_mm / size
        return round(row, 5), round(row * self.pixel_aspect, 5)


@dataclass(frozen=True, slots=True)
class LesionInfo:
    """One lesion's ground truth besides its pixels."""

    shape: str
    appearance: str
    radius_px: float
    contrast: float  # lesion echo/attenuation over its surroundings (1 = invisible)
    area_px: int
    posterior: str = "none"  # ultrasound: shadow, enhancement or none
    #: contrast-to-noise ratio at the lesion's scale and equivalent radius, both in the model's input grid
    #: (:mod:`firmware_sim.imaging.visibility`), measured on the finished image
    cnr: float = 0.0
    radius_model_px: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"shape": self.shape, "appearance": self.appearance, "radius_px": round(self.radius_px, 2),
                "contrast": round(self.contrast, 3), "area_px": self.area_px, "posterior": self.posterior,
                "cnr": round(self.cnr, 3), "radius_model_px": round(self.radius_model_px, 2)}


@dataclass(frozen=True, slots=True)
class Phantom:
    """A rendered image with its truth: the union mask of its lesions (empty without one) and each lesion."""

    image: np.ndarray  # (size, size) uint8
    mask: np.ndarray  # (size, size) bool
    modality: str
    spacing_mm: tuple[float, float]
    lesions: tuple[LesionInfo, ...] = ()
    artefacts: tuple[str, ...] = field(default=())
    #: where a lesion may lie and a visibility ring may reach (the field of view, the body); None = everywhere
    valid: np.ndarray | None = None

    @property
    def has_lesion(self) -> bool:
        return bool(self.mask.any())

    @property
    def all_visible(self) -> bool:
        """Every lesion meets the visibility rule (:func:`firmware_sim.imaging.visibility.visible`)."""
        from firmware_sim.imaging.visibility import visible

        return all(visible(x.cnr, x.radius_model_px) for x in self.lesions)


def measured(infos: list[LesionInfo], pixels: np.ndarray, masks: list[np.ndarray],
             valid: np.ndarray) -> tuple[LesionInfo, ...]:
    """``infos`` with each lesion's visibility measured on the finished ``pixels``."""
    from dataclasses import replace

    from firmware_sim.imaging.visibility import lesion_cnrs

    return tuple(replace(info, cnr=c, radius_model_px=r)
                 for info, (c, r) in zip(infos, lesion_cnrs(pixels, masks, valid), strict=True))


def draw_scanner(rng: np.random.Generator, modality: str) -> Scanner:
    """A random scanner of ``modality`` (the settings a device keeps)."""
    if modality not in MODALITIES:
        raise ValueError(f"modality must be one of {MODALITIES}, got {modality!r}")
    if modality == "ultrasound":
        return Scanner(
            modality, fov_mm=float(rng.uniform(30.0, 160.0)), pixel_aspect=float(rng.uniform(0.9, 1.1)),
            probe=str(rng.choice(PROBES)), grain=float(rng.uniform(0.6, 1.8)), noise=float(rng.uniform(0.0, 0.06)),
            gain=float(rng.uniform(0.75, 1.3)), gamma=float(rng.uniform(0.8, 1.25)),
            depth_gain=float(rng.uniform(-0.35, 0.35)), vignetting=float(rng.uniform(0.0, 0.4)),
            text_rate=float(rng.uniform(0.3, 1.0)), caliper_rate=float(rng.uniform(0.0, 0.5)),
            reverberation=float(rng.uniform(0.0, 0.25) if rng.random() < 0.5 else 0.0),
        )
    return Scanner(
        modality, fov_mm=float(rng.uniform(250.0, 430.0)), pixel_aspect=1.0, probe="flat-panel",
        grain=float(rng.uniform(0.4, 1.3)), noise=float(rng.uniform(0.005, 0.05)), gain=float(rng.uniform(0.85, 1.15)),
        gamma=float(rng.uniform(0.75, 1.3)), vignetting=float(rng.uniform(0.0, 0.35)),
        text_rate=float(rng.uniform(0.3, 1.0)), caliper_rate=float(rng.uniform(0.0, 0.2)),
    )


def lesion_count(rng: np.random.Generator) -> int:
    """How many lesions an image with lesions shows: 1 (70 %), 2 (20 %) or 3 (10 %)."""
    return int(rng.choice([1, 2, 3], p=[0.7, 0.2, 0.1]))
