"""The simulator's hard cases for the fall detector, measured on the signals: stops after a walk,
sit-to-lie, device taken off / dropped / put on, and random sensor mounts."""

from __future__ import annotations

import numpy as np
import pytest

from firmware_sim.dataset import generate
from firmware_sim.motion import HARD_CASES, MotionGenerator, MotionStream, random_mount
from firmware_sim.persona import make_persona

FS = 50.0


def _render(schedule: list[str], seconds: float, seed: int = 4, mount: np.ndarray | None = None) -> tuple[
        np.ndarray, np.ndarray, list[tuple[float, float, str, str]]]:
    gen = MotionGenerator(make_persona(seed, 0), FS, np.random.default_rng(seed), mount=mount)
    stream = MotionStream(gen, schedule=list(schedule))
    acc, gyro = stream.render(round(seconds * FS))
    return acc, gyro, stream.pending_events


def _span(events: list[tuple[float, float, str, str]], label: str) -> tuple[float, float]:
    spans = [(a, b) for a, b, lab, kind in events if lab == label and kind == "activity"]
    assert spans, f"no {label} in {events}"
    return spans[0][0], spans[-1][1]


def test_every_hard_case_can_be_scripted():
    acc, _, events = _render(["walk_stop", "stairs_stop", "sit_down", "sit_to_lie", "get_up", "lie_down_fast",
                              "get_up", "take_off", "put_on", "drop_device"], 240)
    labels = {lab for _, _, lab, kind in events if kind == "activity"}
    assert set(HARD_CASES) <= labels
    assert np.isfinite(acc).all()


def test_a_walk_ending_in_a_stop_is_followed_by_standing_upright():
    acc, _, events = _render(["walk_stop", "standing"], 40)
    _, end = _span(events, "walk_stop")
    standing = acc[round((end + 1) * FS):round((end + 4) * FS)]
    norm = np.linalg.norm(standing, axis=1)
    assert abs(norm.mean() - 1.0) < 0.03 and norm.std() < 0.05
    assert np.mean(standing[:, 2]) > 0.95  # body axes: still upright (z up)


def test_a_device_on_a_table_shows_no_body_motion_but_a_person_lying_breathes():
    acc, _, events = _render(["take_off", "off_body"], 120)
    a, _ = _span(events, "off_body")
    rest = acc[round((a + 1) * FS):round((a + 11) * FS)]
    lying_acc, _, lev = _render(["walking", "lie_down", "lying"], 90, seed=5)
    la, _ = _span(lev, "lying")
    lying = lying_acc[round((la + 1) * FS):round((la + 11) * FS)]

    def wobble_deg(x: np.ndarray) -> float:
        means = x[: len(x) // 25 * 25].reshape(-1, 25, 3).mean(axis=1)
        unit = means / np.linalg.norm(means, axis=1, keepdims=True)
        c = unit.mean(axis=0) / np.linalg.norm(unit.mean(axis=0))
        return float(np.degrees(np.arccos(np.clip(unit @ c, -1, 1))).max())

    assert wobble_deg(rest) < 0.15 < wobble_deg(lying)
    assert any(kind == "device" and lab == "device_removed" for _, _, lab, kind in events)


def test_a_dropped_device_falls_freely_and_hits_the_ground():
    acc, gyro, events = _render(["drop_device"], 30, seed=8)
    t = next(a for a, _, lab, kind in events if kind == "device")
    i = round(t * FS)
    norm = np.linalg.norm(acc, axis=1)
    assert norm[i - 12:i - 3].min() < 0.1  # free fall: no specific force
    assert norm[i - 3:i + 3].max() > 1.4
    assert np.linalg.norm(gyro[i - 12:i - 3], axis=1).max() > 150  # tumbling


def test_a_random_mount_rotates_the_axes_but_not_the_magnitudes():
    r = random_mount(np.random.default_rng(0))
    assert np.allclose(r @ r.T, np.eye(3)) and np.linalg.det(r) == pytest.approx(1.0)
    plain, _, _ = _render(["walking", "fall_forward"], 30, seed=9)
    mounted, _, _ = _render(["walking", "fall_forward"], 30, seed=9, mount=r)
    assert np.abs(mounted - plain).max() > 0.3
    # same kinematics and noise draws; the mount turns the body signal before noise and bias are added
    assert np.allclose(np.linalg.norm(mounted, axis=1), np.linalg.norm(plain, axis=1), atol=0.08)


def test_dataset_mode_draws_a_random_mount_per_subject_and_records_it():
    recs = list(generate("motion", 3, 20, 1, random_mount=True))
    mounts = [np.array(r.persona["mount"]) for r in recs]
    assert all(m.shape == (3, 3) for m in mounts) and not np.allclose(mounts[0], mounts[1])
    assert "mount" not in next(iter(generate("motion", 1, 20, 1))).persona
