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
#: What noise alone makes look like a lesion somewhere in a lesion-free ultrasound image: by disc radius
#: (model px), the 95th percentile over images of the largest CNR of any disc of that radius
#: (``python -m firmware_sim.imaging.search_study --images 400 --modality ultrasound``, seed 0: 6.28 6.43
#: 5.21 4.88 4.33 3.65 3.17), made non-increasing with the radius. A lesion below it at its radius is not
#: one an observer judging lesion-scale contrast could find at 95 % specificity when it does not know
#: where to look. Measured, deliberately not part of the rule: imaging 1.3.0 finds 84 % of the test
#: images with an ultrasound lesion below it (``python -m cloud.imaging.limits_study``), so it bounds a
#: contrast-only observer, not what a model can do. X-ray has no such table:
#: there the most lesion-like places of a lesion-free image are anatomy (rib and heart edges, up to CNR
#: 5.6 at 14 px), which a reader tells from a nodule by its shape, not by its contrast.
SEARCH_CNR_ULTRASOUND = ((3.5, 6.43), (4.5, 6.43), (6.0, 5.21), (8.0, 4.88), (10.5, 4.33), (14.0, 3.65),
                         (19.0, 3.17))
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


def _ring_template(r: float) -> tuple[np.ndarray, np.ndarray, int]:
    """A disc of radius ``r`` and the rule's ring around it, in a square window of half-width ``h``."""
    h = int(np.ceil(r)) + RING_GAP + max(RING_MIN, round(r)) + 1
    yy, xx = np.mgrid[-h:h + 1, -h:h + 1]
    disc = np.hypot(yy, xx) <= r
    near = ndimage.binary_dilation(disc, iterations=RING_GAP)
    far = ndimage.binary_dilation(disc, iterations=RING_GAP + max(RING_MIN, round(r)))
    return disc, far & ~near, h


def disc_cnr_field(x: np.ndarray, ok: np.ndarray, r: float) -> list[float]:
    """The rule's CNR of a disc of radius ``r`` (model px) at every ``r / 2``-th place of model input ``x``
    where the disc lies within ``ok`` and its ring keeps 8 pixels there: how lesion-like the most
    lesion-like places of an image are (:mod:`firmware_sim.imaging.search_study`).

    One smoothing per radius over ``ok`` stands in for :func:`_cnr`'s per-lesion one that leaves the
    lesion out; on an image without a lesion the two differ only by the disc's own pixels.
    """
    disc, ring, h = _ring_template(r)
    background = ok.astype(np.float64)
    sigma = max(SIGMA_MIN, r / 2)
    weight = ndimage.gaussian_filter(background, sigma)
    smooth = ndimage.gaussian_filter(x * background, sigma) / np.maximum(weight, 1e-6)
    step = max(1, round(r / 2))
    n = x.shape[0]
    out = []
    for cy in range(h, n - h, step):
        for cx in range(h, n - h, step):
            win = (slice(cy - h, cy + h + 1), slice(cx - h, cx + h + 1))
            allowed = ok[win]
            if not allowed[disc].all():
                continue
            around = ring & allowed
            if around.sum() < 8:
                continue
            noise = float(smooth[win][around].std())
            diff = abs(float(x[win][disc].mean()) - float(x[win][around].mean()))
            out.append(diff / max(noise, 1e-3))
    return out


def search_cnr(radius_model_px: float, modality: str) -> float | None:
    """The CNR an ultrasound lesion of this radius needs to stand out of every lesion-free image's most
    lesion-like place in 95 % of them (:data:`SEARCH_CNR_ULTRASOUND`, interpolated); None for X-ray."""
    if modality != "ultrasound":
        return None
    r, c = zip(*SEARCH_CNR_ULTRASOUND, strict=True)
    return float(np.interp(radius_model_px, r, c))


def below_search_null(cnr: float, radius_model_px: float, modality: str) -> bool:
    """An ultrasound lesion less lesion-like than noise makes somewhere in 5 % of lesion-free images
    (:func:`search_cnr`); never for X-ray, which has no search null."""
    need = search_cnr(radius_model_px, modality)
    return need is not None and cnr < need


def visible(cnr: float, radius_model_px: float) -> bool:
    """The generator's rule: a lesion is drawn only when a reader could see it."""
    return cnr >= MIN_CNR and radius_model_px >= MIN_RADIUS_MODEL_PX
