"""Body kinematics of daily activities and falls, from physics.

Each segment returns the trunk orientation (pitch: forward lean, roll: sideways lean, in rad), the
yaw rate, and the linear acceleration of the sensor in a world frame aligned with the walking
direction (x forward, y left, z up; in g, gravity *not* included). :mod:`motion` turns them into what
an accelerometer and a gyroscope strapped to the waist measure.

The physics that makes a fall a fall (Bourke et al. 2007; Kangas et al. 2008): during the descent
the body is in (partial) free fall, so the accelerometer's specific force drops well below 1 g
(0.1-0.5 g) while the trunk rotates at 100-350 deg/s; the impact is a 3-8 g spike lasting tens of
milliseconds; afterwards the trunk is horizontal and nearly still. Fall-like activities share some
of these features but not all: a jump has real free fall and a hard landing but stays upright;
sitting down hard has a partial drop and a 1-2 g bump but ends upright; lying down fast ends
horizontal with a soft bump; bending rotates the trunk 70-90 deg with no drop or impact.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

HALF_PI = np.pi / 2
SIT_PITCH = -0.25


@dataclass
class Segment:
    """Kinematics of one segment, sampled at ``fs``; events are (t_start, t_end, label, kind) in s."""

    pitch: np.ndarray
    roll: np.ndarray
    yaw_rate: np.ndarray  # rad/s
    acc: np.ndarray  # (n, 3) world-frame linear acceleration, g
    posture: str  # posture at the end: standing | sitting | lying
    events: list[tuple[float, float, str, str]] = field(default_factory=list)
    gyro_extra: np.ndarray | None = None  # (n, 3) deg/s, oscillations not captured by pitch/roll


def _n(fs: float, seconds: float) -> int:
    return max(2, round(fs * seconds))


def _ease(n: int) -> np.ndarray:
    """Minimum-jerk 0 -> 1 profile over ``n`` samples."""
    u = np.linspace(0.0, 1.0, n)
    return 10 * u**3 - 15 * u**4 + 6 * u**5


def _pulse(n: int, start: int, width: int, peak: float) -> np.ndarray:
    """A half-sine pulse (an impact) with a damped 12 Hz ring-down after it."""
    out = np.zeros(n)
    width = max(2, width)
    end = min(n, start + width)
    out[start:end] = peak * np.sin(np.pi * (np.arange(end - start) + 0.5) / width)
    ring = np.arange(n - end)
    if ring.size:
        out[end:] = -0.3 * peak * np.exp(-ring / (0.08 * width * 12)) * np.sin(2 * np.pi * ring / max(3, width))
    return out


def _const(n: int, pitch: float, roll: float, rng: np.random.Generator, fs: float, sway: float) -> Segment:
    t = np.arange(n) / fs
    ph = rng.uniform(0, 2 * np.pi, 2)
    acc = np.zeros((n, 3))
    acc[:, 0] = sway * 0.3 * np.sin(2 * np.pi * 0.25 * t + ph[0])  # breathing, postural sway
    return Segment(
        pitch + sway * 0.5 * np.sin(2 * np.pi * 0.2 * t + ph[1]),
        np.full(n, roll) + sway * 0.3 * np.sin(2 * np.pi * 0.17 * t),
        np.zeros(n), acc, "standing",
    )


def still(rng: np.random.Generator, fs: float, seconds: float, pitch: float, roll: float, posture: str) -> Segment:
    """Standing, sitting or lying without moving (sway and breathing only). Breathing tilts the
    trunk by 0.2-0.5 deg sitting or lying (Hernandez 2015 measured it from a waist/chest
    accelerometer), which is what tells a person lying still from a device lying on a table."""
    sway = 0.03 if posture == "standing" else float(rng.uniform(0.008, 0.02))
    seg = _const(_n(fs, seconds), pitch, roll, rng, fs, sway)
    seg.posture = posture
    return seg


def device_still(fs: float, seconds: float, pitch: float, roll: float) -> Segment:
    """A device lying on a table, a bed or the floor: no body, no motion (sensor noise only)."""
    n = _n(fs, seconds)
    return Segment(np.full(n, pitch), np.full(n, roll), np.zeros(n), np.zeros((n, 3)), "off_body")


def handling(
    rng: np.random.Generator, fs: float, seconds: float, p0: tuple[float, float], p1: tuple[float, float],
    posture: str,
) -> Segment:
    """A device in a hand (taken off, picked up, put on): it turns from ``p0`` to ``p1`` with hand
    tremor and jerks (0.1-0.3 g, tens of deg/s) on top of the smooth turn."""
    n = _n(fs, seconds)
    s = _ease(n)
    k = max(4, int(seconds * 3))
    knots = np.linspace(0, n - 1, k)
    wobble = np.stack([np.interp(np.arange(n), knots, rng.normal(0, 0.25, k)) for _ in range(2)], axis=1)
    wobble *= np.sin(np.pi * s)[:, None]
    acc = np.stack([np.interp(np.arange(n), knots, rng.normal(0, rng.uniform(0.08, 0.25), k)) for _ in range(3)],
                   axis=1)
    extra = np.stack([np.interp(np.arange(n), knots, rng.normal(0, rng.uniform(15, 50), k)) for _ in range(3)],
                     axis=1)
    return Segment(p0[0] + (p1[0] - p0[0]) * s + wobble[:, 0], p0[1] + (p1[1] - p0[1]) * s + wobble[:, 1],
                   np.zeros(n), acc, posture, gyro_extra=extra)


def device_drop(
    rng: np.random.Generator, fs: float, p0: tuple[float, float], p1: tuple[float, float], *, height_m: float,
    impact_g: float, impact_s: float,
) -> Segment:
    """A device slipping from a belt or a hand: true free fall (0 g) from ``height_m`` while tumbling
    (hundreds of deg/s), an impact on the floor or a bed with a bounce, then it lies still."""
    fall_s = float(np.sqrt(2 * height_m / 9.81))
    n_fall = _n(fs, fall_s)
    n_rest = _n(fs, 1.0)
    n = n_fall + n_rest
    u = np.linspace(0, 1, n_fall)
    pitch = np.concatenate([p0[0] + (p1[0] - p0[0]) * u, np.full(n_rest, p1[0])])
    roll = np.concatenate([p0[1] + (p1[1] - p0[1]) * u, np.full(n_rest, p1[1])])
    acc = np.zeros((n, 3))
    acc[:n_fall, 2] = -1.0  # the specific force vanishes in free fall
    n_imp = max(2, round(fs * impact_s))
    acc[:, 2] += _pulse(n, n_fall, n_imp, impact_g)
    bounce = min(n - 2, n_fall + n_imp + max(2, round(0.12 * fs)))
    acc[:, 2] += _pulse(n, bounce, n_imp, 0.3 * impact_g)
    extra = np.zeros((n, 3))
    extra[:n_fall] = rng.uniform(150, 600, 3) * rng.choice([-1.0, 1.0], 3)
    t_peak = (n_fall + n_imp / 2) / fs
    return Segment(pitch, roll, np.zeros(n), acc, "off_body", [(t_peak, t_peak, "device_dropped", "device")],
                   gyro_extra=extra)


def stop_step(rng: np.random.Generator, fs: float, impact_g: float) -> Segment:
    """The last, braking step of a walk: a forward deceleration and a firm heel strike."""
    n = _n(fs, 0.6)
    acc = np.zeros((n, 3))
    width = max(2, round(fs * float(rng.uniform(0.05, 0.1))))
    acc[:, 2] += _pulse(n, n // 3, width, impact_g)
    acc[:, 0] -= _pulse(n, n // 3 - width, 3 * width, float(rng.uniform(0.2, 0.5)))
    return Segment(np.full(n, 0.04), np.zeros(n), np.zeros(n), acc, "standing")


def gait(rng: np.random.Generator, fs: float, seconds: float, cadence: float, amp: float, heel: float = 0.0) -> Segment:
    """Walking or stairs: step-periodic trunk acceleration with step-to-step variation."""
    n = _n(fs, seconds)
    t = np.arange(n) / fs
    steps = int(seconds * cadence) + 2
    gain = np.interp(t * cadence, np.arange(steps), 1 + 0.12 * rng.standard_normal(steps))
    ph = 2 * np.pi * cadence * t + rng.uniform(0, 2 * np.pi)
    acc = np.zeros((n, 3))
    acc[:, 2] = gain * amp * (np.sin(ph) + 0.3 * np.sin(2 * ph + 0.5))
    acc[:, 0] = gain * amp * 0.5 * np.sin(ph + 0.8)
    acc[:, 1] = gain * amp * 0.35 * np.sin(0.5 * ph)
    if heel:
        acc[:, 2] += heel * gain * np.clip((np.sin(ph - 0.3) - 0.85) / 0.15, 0.0, 1.0)
    gyro = np.zeros((n, 3))
    gyro[:, 0] = 8.0 * gain * np.sin(0.5 * ph + 0.3)
    gyro[:, 2] = 18.0 * gain * np.sin(0.5 * ph)
    return Segment(0.06 + 0.03 * np.sin(ph), 0.02 * np.sin(0.5 * ph), np.zeros(n), acc, "standing",
                   gyro_extra=gyro)


def running(rng: np.random.Generator, fs: float, seconds: float) -> Segment:
    """Running: stance half-sines of ~3 g and flight phases near 0 g (specific force averages 1 g)."""
    n = _n(fs, seconds)
    t = np.arange(n) / fs
    cadence = rng.uniform(2.5, 3.0)
    duty = rng.uniform(0.4, 0.5)
    phase = (t * cadence + rng.uniform()) % 1.0
    force = np.where(phase < duty, np.pi / (2 * duty) * np.sin(np.pi * phase / duty), 0.0)
    acc = np.zeros((n, 3))
    acc[:, 2] = force * (1 + 0.08 * rng.standard_normal(n).cumsum() / np.sqrt(n)) - 1.0
    acc[:, 0] = 0.3 * np.sin(2 * np.pi * cadence * t)
    gyro = np.zeros((n, 3))
    gyro[:, 2] = 35.0 * np.sin(np.pi * cadence * t)
    gyro[:, 0] = 15.0 * np.sin(np.pi * cadence * t + 0.4)
    return Segment(0.15 + 0.04 * np.sin(2 * np.pi * cadence * t), np.zeros(n), np.zeros(n), acc, "standing",
                   gyro_extra=gyro)


def transition(
    rng: np.random.Generator, fs: float, seconds: float, p0: tuple[float, float], p1: tuple[float, float],
    posture: str, lean: float = 0.0, dip: float = 0.15,
) -> Segment:
    """A controlled posture change (sit down, stand up, lie down, get up): smooth rotation and a
    gentle down-then-up (or up-then-down) vertical acceleration; ``lean`` adds a forward bow midway."""
    n = _n(fs, seconds)
    s = _ease(n)
    bow = lean * np.sin(np.pi * s)
    u = np.linspace(0, 1, n)
    acc = np.zeros((n, 3))
    acc[:, 2] = -dip * np.sin(2 * np.pi * u)
    acc[:, 0] = 0.05 * lean * np.sin(2 * np.pi * u)
    return Segment(p0[0] + (p1[0] - p0[0]) * s + bow, p0[1] + (p1[1] - p0[1]) * s, np.zeros(n), acc, posture)


def drop_and_impact(
    rng: np.random.Generator, fs: float, p0: tuple[float, float], p1: tuple[float, float], *,
    descent_s: float, residual_g: float, impact_g: float, impact_s: float, settle_s: float,
    posture: str, label: str, is_fall: bool, rotate_power: float = 2.0,
) -> Segment:
    """The common shape of falls and of the fall-like activities: a descent in partial free fall
    (specific force ``residual_g``) while rotating from ``p0`` to most of ``p1``, an impact pulse of
    ``impact_g`` over ``impact_s``, then settling into ``p1``. Events: an ``impact`` point at the
    peak and, for a fall, a ``fall`` span from the onset to the end of the impact."""
    n_desc = _n(fs, descent_s)
    n_imp = max(2, round(fs * impact_s))
    n_settle = _n(fs, settle_s)
    n = n_desc + n_settle
    pitch = np.empty(n)
    roll = np.empty(n)
    u = np.linspace(0, 1, n_desc) ** rotate_power
    reach = 0.8
    pitch[:n_desc] = p0[0] + (p1[0] - p0[0]) * reach * u
    roll[:n_desc] = p0[1] + (p1[1] - p0[1]) * reach * u
    s = _ease(n_settle)
    pitch[n_desc:] = pitch[n_desc - 1] + (p1[0] - pitch[n_desc - 1]) * np.minimum(1, 3 * s)
    roll[n_desc:] = roll[n_desc - 1] + (p1[1] - roll[n_desc - 1]) * np.minimum(1, 3 * s)
    acc = np.zeros((n, 3))
    # Free fall: world-vertical acceleration -(1 - residual) g, entered over ~60 ms.
    entry = np.minimum(1.0, np.arange(n_desc) / max(1, round(0.06 * fs)))
    acc[:n_desc, 2] = -(1.0 - residual_g) * entry
    acc[:, 2] += _pulse(n, n_desc, n_imp, impact_g)
    direction = np.array([np.sin(p1[0] - p0[0]), -np.sin(p1[1] - p0[1])])
    acc[:, :2] += 0.35 * _pulse(n, n_desc, n_imp, impact_g)[:, None] * direction[None, :]
    acc[:, :2] += rng.normal(0, 0.03, (n, 2))
    t_peak = (n_desc + n_imp / 2) / fs
    events = [(t_peak, t_peak, label, "impact")]
    if is_fall:
        events.insert(0, (0.0, (n_desc + n_imp) / fs, label, "fall"))
    return Segment(pitch, roll, np.zeros(n), acc, posture, events)
