"""What noise alone makes look like a lesion somewhere in a lesion-free image: the search visibility table.

The visibility rule's contrast-to-noise ratio (:mod:`firmware_sim.imaging.visibility`) is measured at the
lesion's own place, as if the reader knew where to look; there a CNR of 3 is rarely reached by noise
(~1-2 % of places). But a detection floor (sensitivity at 95 % specificity) asks a different question:
*is there a lesion anywhere in this image?* A lesion-free image offers many lesion-sized places, the
more the smaller the lesion, and the most lesion-like of them is what a lesion must beat. This study
measures it as the generator makes the images the floor's specificity is measured on (speckle, anatomy,
reflectors, electrodes and text included): on lesion-free phantoms of random scanners, discs of each
radius (model grid) are placed on a grid over the valid region, each scored with the rule's own CNR, and
the largest per image is kept; the table is the 95th percentile of that maximum by modality and radius.

``python -m firmware_sim.imaging.search_study [--images N] [--json FILE]`` prints it (~1-2 min a
modality at the default size on one core); :data:`firmware_sim.imaging.visibility.SEARCH_CNR_ULTRASOUND`
holds the ultrasound figures it printed for 400 images. They are measured, not a rule of the generator:
the released model finds most lesions below them (``python -m cloud.imaging.limits_study``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage

from firmware_sim.imaging.scene import MODALITIES, draw_scanner
from models.preprocessing import imaging as prep

#: Disc radii in model pixels at which the null is measured (the rule interpolates between them).
RADII = (3.5, 4.5, 6.0, 8.0, 10.5, 14.0, 19.0)
QUANTILE = 95.0


def null_maxima(modality: str, images: int, seed: int = 0, radii: tuple[float, ...] = RADII) -> np.ndarray:
    """``(images, len(radii))``: per lesion-free image, the largest CNR of a lesion-sized disc anywhere in it."""
    from firmware_sim.imaging import render_phantom
    from firmware_sim.imaging.visibility import disc_cnr_field

    rng = np.random.default_rng([seed, MODALITIES.index(modality)])
    out = np.zeros((images, len(radii)))
    for i in range(images):
        p = render_phantom(rng, draw_scanner(rng, modality), 128, lesion=False)
        x = prep.model_input(p.image)[0][..., 0].astype(np.float64)
        valid = np.ones(p.image.shape, bool) if p.valid is None else p.valid
        ok = ndimage.binary_erosion(prep.model_target(valid).astype(bool), iterations=1)
        for j, r in enumerate(radii):
            out[i, j] = max(disc_cnr_field(x, ok, r), default=0.0)
    return out


def table(maxima: np.ndarray, quantile: float = QUANTILE, radii: tuple[float, ...] = RADII) -> dict[str, float]:
    """Radius -> the ``quantile`` th percentile of the per-image maxima."""
    return {f"{r:g}": round(float(np.percentile(maxima[:, j], quantile)), 2) for j, r in enumerate(radii)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m firmware_sim.imaging.search_study", description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=300, help="lesion-free images per modality (default 300)")
    ap.add_argument("--modality", choices=MODALITIES, action="append", help="default: both")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, help="also write the table here")
    args = ap.parse_args(argv)
    result: dict[str, object] = {"quantile": QUANTILE, "images": args.images, "seed": args.seed,
                                 "radii_model_px": RADII}
    for modality in args.modality or MODALITIES:
        maxima = null_maxima(modality, args.images, args.seed)
        result[modality] = {"p95": table(maxima), "median": table(maxima, 50.0)}
        sys.stdout.write(f"{modality} {json.dumps(result[modality])}\n")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
