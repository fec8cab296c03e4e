"""The phantoms' visibility rule: every lesion drawn is one a reader could see in the model's input."""

from __future__ import annotations

import numpy as np
import pytest

from firmware_sim.imaging import MODALITIES, draw_scanner, render_phantom, ultrasound, xray
from firmware_sim.imaging.visibility import MIN_CNR, MIN_RADIUS_MODEL_PX, lesion_cnrs, visible


def _disc_image(contrast: float, noise: float, radius: float, seed: int = 0) -> tuple[np.ndarray, list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:128, 0:128]
    disc = np.hypot(yy - 64, xx - 64) <= radius
    img = 120 + contrast * disc + noise * rng.standard_normal((128, 128))
    return np.clip(np.round(img), 0, 255).astype(np.uint8), [disc]


def test_cnr_separates_a_visible_disc_from_noise_and_from_a_tiny_one() -> None:
    everywhere = np.ones((128, 128), bool)
    (seen, r_seen), = lesion_cnrs(*_disc_image(60, 10, 12), everywhere)
    (tiny, r_tiny), = lesion_cnrs(*_disc_image(60, 10, 2.5), everywhere)
    assert seen > 10 and visible(seen, r_seen)
    assert r_seen == pytest.approx(12 * 96 / 128, rel=0.1)  # measured in the model's 96-px grid
    assert r_tiny < MIN_RADIUS_MODEL_PX and not visible(tiny, r_tiny)
    # no lesion at all (contrast 0): the CNR is a lesion-scale z-score of the noise, rarely at the rule
    null = [lesion_cnrs(*_disc_image(0, 10, r, seed), everywhere)[0][0] for seed in range(20) for r in (6, 12, 20)]
    assert 0.4 < float(np.median(null)) < 1.5
    assert sum(c >= MIN_CNR for c in null) <= 0.05 * len(null)  # ~ the 95th percentile of noise


@pytest.mark.parametrize("modality", MODALITIES)
def test_every_drawn_lesion_meets_the_rule_and_the_raw_renderer_would_not(modality: str) -> None:
    render = ultrasound.render if modality == "ultrasound" else xray.render
    kept, raw = [], []
    for i in range(6):
        rng = np.random.default_rng([2024, i])
        scanner = draw_scanner(rng, modality)
        for _ in range(3):
            p = render_phantom(rng, scanner, 128, lesion=True)
            kept.extend(p.lesions)
            assert p.lesions or not p.has_lesion
            raw.extend(render(rng, 128, scanner, 2).lesions)  # the same renderer without the rule
    assert len(kept) >= 15
    for lesion in kept:
        assert lesion.cnr >= MIN_CNR and lesion.radius_model_px >= MIN_RADIUS_MODEL_PX, lesion
    # the rule has work to do: without it, some lesions would be below it
    assert any(not visible(x.cnr, x.radius_model_px) for x in raw)


def test_render_ahead_gives_the_same_phantoms_as_rendering_in_turn_and_reraises() -> None:
    from firmware_sim.imaging.ahead import RenderAhead

    scanner = draw_scanner(np.random.default_rng(1), "ultrasound")
    ahead = RenderAhead(np.random.default_rng(9), scanner, 64, 0.5)
    serial = np.random.default_rng(9)
    for _ in range(4):
        expected = render_phantom(serial, scanner, 64, bool(serial.random() < 0.5))
        got = ahead.next()
        assert np.array_equal(got.image, expected.image) and np.array_equal(got.mask, expected.mask)
    broken = RenderAhead(np.random.default_rng(9), scanner, 16, 0.5)  # too small: render_phantom refuses
    with pytest.raises(ValueError, match="at least 32"):
        broken.next()
