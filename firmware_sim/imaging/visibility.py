"""Can a reader see this lesion? Its contrast-to-noise ratio at its own scale, on the image as the model
sees it, and the rule the generator draws lesions by.

A lesion is only a fair label when it stands out from its surroundings more than the surroundings vary
at the lesion's own scale: a hypoechoic region whose mean differs from the speckle around it by less
than the speckle's own blob-to-blob variation is invisible to a radiologist and to any model, and
training on it teaches noise. The measure, computed on the shared preprocessing's model input
(:func:`models.preprocessing.imaging.model_input`, so after letterboxing, anti-aliased resampling and
scaling):

* ``inside``: the lesion's pixels in the model grid; ``ring``: the pixels between ``RING_GAP`` and
  ``RING_GAP + max(RING_MIN, r)`` model pixels outside it (``r`` its equivalent radius), within the
  image's valid region (field of view / body) and away from other lesions;
* lesion-scale noise: the standard deviation over the ring of the background (the valid region less
  the lesion) smoothed by a Gaussian of ``sigma = max(SIGMA_MIN, r / 2)`` (normalised convolution, so
  neither the lesion nor the black outside the field of view leaks in). Averaging over the lesion's
  size is what an observer's eye does: speckle finer than the lesion averages out, tissue texture and
  shadows as large as it do not;
* ``cnr = |mean(inside) - mean(ring)| / noise``.

:data:`MIN_CNR` and :data:`MIN_RADIUS_MODEL_PX` are the rule (see the data card): lesions below either
are not drawn. The smoothing matches the lesion's area (a Gaussian of sigma ``r / 2`` weighs an area of
``pi r^2``), so the CNR is a lesion-scale z-score: on pure noise, where there is no lesion, its median
is ~0.85 and ~5 % of places reach 3 (``tests/sim/test_imaging_visibility.py``). The rule asks for 3,
the Rose criterion (a feature must stand ~3-5 noise standard deviations out to be seen with some
certainty): lesions at 3-4 are faint but a reader could see them, and they are kept.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from models.preprocessing import imaging as prep

#: A drawn lesion's contrast-to-noise ratio at its scale is at least this (measured, see module docstring).
MIN_CNR = 3.0
#: A drawn lesion's equivalent radius in the model's input grid is at least this many pixels (3 px is
#: 4 px of a 128-px image): smaller ones are a few pixels after resampling, below what the input resolves.
MIN_RADIUS_MODEL_PX = 3.5
RING_GAP = 1
RING_MIN = 3
SIGMA_MIN = 1.0


def lesion_cnrs(pixels: np.ndarray, lesions: list[np.ndarray], valid: np.ndarray) -> list[tuple[float, float]]:
    """``(cnr, radius in model pixels)`` of each lesion (bool masks, the image's shape) of ``pixels`` (uint8).

    ``valid`` marks where a ring may lie (the field of view, the body); the other lesions of the image are
    kept out of each ring. A lesion with no ring left (it fills the valid region) has CNR 0.
    """
    x = prep.model_input(pixels)[0][..., 0].astype(np.float64)
    grid = [prep.model_target(m).astype(bool) for m in lesions]
    ok = prep.model_target(valid).astype(bool)
    out = []
    for k, inside in enumerate(grid):
        allowed = ok.copy()
        for j, other in enumerate(grid):
            if j != k and other.any():
                allowed &= ~ndimage.binary_dilation(other, iterations=2)
        out.append(_cnr(x, inside, allowed))
    return out


def _cnr(x: np.ndarray, inside: np.ndarray, ok: np.ndarray) -> tuple[float, float]:
    area = int(inside.sum())
    if area == 0:
        return 0.0, 0.0
    r = float(np.sqrt(area / np.pi))
    near = ndimage.binary_dilation(inside, iterations=RING_GAP)
    far = ndimage.binary_dilation(inside, iterations=RING_GAP + max(RING_MIN, round(r)))
    ring = far & ~near & ok
    if ring.sum() < 8:
        return 0.0, r
    # normalised convolution over the background only: neither the lesion nor the black outside the
    # field of view leaks into the smoothed surroundings
    background = (ok & ~near).astype(np.float64)
    sigma = max(SIGMA_MIN, r / 2)
    weight = ndimage.gaussian_filter(background, sigma)
    smooth = ndimage.gaussian_filter(x * background, sigma) / np.maximum(weight, 1e-6)
    noise = float(smooth[ring].std())
    diff = abs(float(x[inside].mean()) - float(x[ring].mean()))
    return diff / max(noise, 1e-3), r


def visible(cnr: float, radius_model_px: float) -> bool:
    """The generator's rule: a lesion is drawn only when a reader could see it."""
    return cnr >= MIN_CNR and radius_model_px >= MIN_RADIUS_MODEL_PX
