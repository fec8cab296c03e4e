"""The search null: what noise alone makes look like a lesion somewhere in a lesion-free image."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from firmware_sim.imaging.search_study import main, null_maxima
from firmware_sim.imaging.visibility import (
    SEARCH_CNR_ULTRASOUND,
    disc_cnr_field,
    lesion_cnrs,
    search_cnr,
)
from models.preprocessing import imaging as prep


def _noise(seed: int, contrast: float = 0.0, radius: float = 12.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:128, 0:128]
    disc = np.hypot(yy - 64, xx - 64) <= radius
    img = 120 + contrast * disc + 10 * rng.standard_normal((128, 128))
    return np.clip(np.round(img), 0, 255).astype(np.uint8), disc


def test_the_field_is_the_rules_cnr_where_there_is_no_lesion() -> None:
    """On lesion-free noise the field's CNRs (one smoothing for every place) are distributed as the rule's
    CNR of a disc at one place (its own smoothing, leaving the disc out)."""
    at_place, anywhere = [], []
    for seed in range(12):
        image, disc = _noise(seed)
        (c, r), = lesion_cnrs(image, [disc], np.ones(disc.shape, bool))
        at_place.append(c)
        x = prep.model_input(image)[0][..., 0].astype(np.float64)
        anywhere.extend(disc_cnr_field(x, np.ones(x.shape, bool), r))
    assert np.median(anywhere) == pytest.approx(np.median(at_place), rel=0.35)
    assert 0.4 < np.median(anywhere) < 1.5  # a lesion-scale z-score of noise, as test_imaging_visibility finds


def test_noise_alone_reaches_the_fixed_place_rule_somewhere_in_most_images_and_more_so_small() -> None:
    maxima = []
    for seed in range(6):
        image, _ = _noise(seed)
        x = prep.model_input(image)[0][..., 0].astype(np.float64)
        ok = np.ones(x.shape, bool)
        maxima.append([max(disc_cnr_field(x, ok, r)) for r in (3.5, 14.0)])
    small, large = np.asarray(maxima).T
    # at one known place noise reaches 3 in ~5 % of places (test_imaging_visibility); searched over an image
    # of small places it reaches it nearly always
    assert np.median(small) > 3.0
    assert np.all(small > large)


def test_the_table_is_non_increasing_and_only_for_ultrasound() -> None:
    radii, cnrs = zip(*SEARCH_CNR_ULTRASOUND, strict=True)
    assert list(cnrs) == sorted(cnrs, reverse=True) and list(radii) == sorted(radii)
    assert search_cnr(3.5, "ultrasound") == cnrs[0] and search_cnr(40.0, "ultrasound") == cnrs[-1]
    assert cnrs[-1] < search_cnr(12.0, "ultrasound") < cnrs[0]
    assert search_cnr(6.0, "xray") is None


def test_the_study_measures_generated_lesion_free_images_and_writes_its_table(tmp_path: Path) -> None:
    maxima = null_maxima("ultrasound", 4, seed=3, radii=(3.5, 19.0))
    assert maxima.shape == (4, 2) and np.all(maxima > 0)
    assert np.median(maxima[:, 0]) > np.median(maxima[:, 1])
    out = tmp_path / "null.json"
    assert main(["--images", "2", "--modality", "xray", "--json", str(out)]) == 0
    table = json.loads(out.read_text())
    assert table["quantile"] == 95.0 and set(table["xray"]["p95"]) == {f"{r:g}" for r in table["radii_model_px"]}
