"""Training-only devices enlarge the training split and leave the held-out devices as they were, so a
model trained on more scanners is scored on the very test images the releases before it were."""

from __future__ import annotations

import numpy as np

from cloud.imaging.data import ImagingProfile, build


def test_extra_devices_train_only_and_held_out_split_unchanged() -> None:
    base = ImagingProfile(devices=6, images_per_device=2, size=64)
    more = ImagingProfile(devices=6, images_per_device=2, size=64, extra_train_devices=3)
    a, b = build(base), build(more)
    extras = ["img-0006", "img-0007", "img-0008"]
    assert b.card["subjects"]["train"] == a.card["subjects"]["train"] + extras
    for split in ("val", "test"):
        assert b.card["subjects"][split] == a.card["subjects"][split]
        assert np.array_equal(b.images[split], a.images[split]) and np.array_equal(b.masks[split], a.masks[split])
        assert b.devices[split] == a.devices[split]
    n_base = len(a.images["train"])
    assert len(b.images["train"]) == n_base + 3 * 2
    assert b.devices["train"][n_base:] == [d for d in extras for _ in (0, 1)]
    assert np.array_equal(b.images["train"][:n_base], a.images["train"])
    assert b.card["generation"]["extra_train_devices"] == 3 and b.sha256 != a.sha256
