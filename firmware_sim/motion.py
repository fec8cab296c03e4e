"""Motion wearable: a persona's day as a Markov chain of activities and falls, measured by a waist
accelerometer (g) and gyroscope (deg/s). Body axes: x forward, y left, z up along the trunk.

:class:`MotionGenerator` produces one activity at a time (with its annotations), so the dataset
mode and a live wearable share it; :class:`MotionStream` slices it into frames.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from firmware_sim import motion_segments as ms
from firmware_sim.persona import Persona

#: white sensor noise per sample at 50 Hz, drawn per device from these ranges: a phone lying on a table
#: in the kse801 recording reads 0.0016 g and about 0.1 deg/s (std per sample)
ACC_NOISE_G = (0.0015, 0.004)
GYRO_NOISE_DPS = (0.03, 0.1)
ACC_RANGE_G = 16.0
GYRO_RANGE_DPS = 2000.0

FALLS = ("fall_forward", "fall_backward", "fall_sideways", "fall_from_chair", "collapse")
FALL_LIKE = ("sit_down_hard", "lie_down_fast", "bend_pick_up", "jump")
#: Daily activities that fooled the 1.0.0 detector on real data, and device handling.
HARD_CASES = ("walk_stop", "stairs_stop", "sit_to_lie", "lie_down_fast", "take_off", "drop_device", "put_on")

Pose = tuple[float, float]
Activity = Callable[[np.random.Generator, Persona, float, Pose], list[tuple[str, ms.Segment]]]


def _u(rng: np.random.Generator, a: float, b: float) -> float:
    return float(rng.uniform(a, b))


def _lying_pose(rng: np.random.Generator, kind: str) -> Pose:
    side = float(rng.choice([-1.0, 1.0]))
    if kind == "forward":
        return ms.HALF_PI * _u(rng, 0.85, 1.0), _u(rng, -0.2, 0.2)
    if kind == "backward":
        return -ms.HALF_PI * _u(rng, 0.85, 1.0), _u(rng, -0.2, 0.2)
    return _u(rng, -0.2, 0.2), side * ms.HALF_PI * _u(rng, 0.85, 1.0)


def _still(rng: np.random.Generator, fs: float, lo: float, hi: float, pose: Pose, posture: str) -> ms.Segment:
    return ms.still(rng, fs, _u(rng, lo, hi), pose[0], pose[1], posture)


def _after_fall(
    rng: np.random.Generator, fs: float, pose: Pose, lie: tuple[float, float]
) -> list[tuple[str, ms.Segment]]:
    """Lying still after the impact (at least 8 s: the falls an alert is for are those after which the
    person stays down; one who is up again within seconds has recovered); whether and when the
    person gets up is the next activity's choice (the lying posture's chain), so a scripted schedule
    can say it."""
    return [("lying", _still(rng, fs, lie[0], lie[1], pose, "lying"))]


def _get_up(rng: np.random.Generator, fs: float, pose: Pose) -> list[tuple[str, ms.Segment]]:
    up = ms.transition(rng, fs, _u(rng, 1.5, 3.0), pose, (ms.SIT_PITCH, 0.0), "sitting", dip=0.1)
    stand = ms.transition(rng, fs, _u(rng, 1.0, 2.0), (ms.SIT_PITCH, 0.0), (0.0, 0.0), "standing", lean=0.5,
                          dip=-0.2)
    return [("get_up", up), ("get_up", stand)]


def _fall(kind: str, direction: str) -> Activity:
    def make(rng: np.random.Generator, p: Persona, fs: float, pose: Pose) -> list[tuple[str, ms.Segment]]:
        end = _lying_pose(rng, direction)
        if kind == "collapse":
            seg = ms.drop_and_impact(rng, fs, pose, end, descent_s=_u(rng, 0.7, 1.1), residual_g=_u(rng, 0.35, 0.65),
                                     impact_g=_u(rng, 2.0, 4.0), impact_s=_u(rng, 0.06, 0.12), settle_s=1.0,
                                     posture="lying", label=kind, is_fall=True, rotate_power=3.0)
            return [(kind, seg), *_after_fall(rng, fs, end, (10, 40))]
        descent = (0.25, 0.4) if kind == "fall_from_chair" else (0.4, 0.7)
        seg = ms.drop_and_impact(rng, fs, pose, end, descent_s=_u(rng, *descent), residual_g=_u(rng, 0.1, 0.45),
                                 impact_g=_u(rng, 3.0, 8.0) * (0.7 if kind == "fall_from_chair" else 1.0),
                                 impact_s=_u(rng, 0.04, 0.1), settle_s=1.0, posture="lying", label=kind,
                                 is_fall=True)
        return [(kind, seg), *_after_fall(rng, fs, end, (8, 40))]

    return make


def _walking(rng: np.random.Generator, p: Persona, fs: float, pose: Pose) -> list[tuple[str, ms.Segment]]:
    return [("walking", ms.gait(rng, fs, _u(rng, 5, 20), p.cadence_hz, p.gait_g))]


def _stairs(up: bool) -> Activity:
    def make(rng: np.random.Generator, p: Persona, fs: float, pose: Pose) -> list[tuple[str, ms.Segment]]:
        seg = ms.gait(rng, fs, _u(rng, 4, 10), p.cadence_hz * (0.85 if up else 0.95), p.gait_g * 1.3,
                      heel=0.0 if up else 0.6)
        return [("stairs_up" if up else "stairs_down", seg)]

    return make


def _sit_down(hard: bool) -> Activity:
    def make(rng: np.random.Generator, p: Persona, fs: float, pose: Pose) -> list[tuple[str, ms.Segment]]:
        sit = (ms.SIT_PITCH, 0.0)
        if hard:
            seg = ms.drop_and_impact(rng, fs, pose, sit, descent_s=_u(rng, 0.25, 0.4), residual_g=_u(rng, 0.35, 0.6),
                                     impact_g=_u(rng, 1.0, 2.0), impact_s=_u(rng, 0.08, 0.15), settle_s=0.8,
                                     posture="sitting", label="sit_down_hard", is_fall=False, rotate_power=1.0)
        else:
            seg = ms.transition(rng, fs, _u(rng, 1.5, 2.5), pose, sit, "sitting", lean=0.5, dip=0.2)
        return [("sit_down_hard" if hard else "sit_down", seg), ("sitting", _still(rng, fs, 5, 15, sit, "sitting"))]

    return make


def _lie_down(fast: bool) -> Activity:
    def make(rng: np.random.Generator, p: Persona, fs: float, pose: Pose) -> list[tuple[str, ms.Segment]]:
        end = _lying_pose(rng, str(rng.choice(["backward", "side"])))
        if fast:
            # onto a bed or a sofa: a controlled descent and a soft but sometimes firm landing
            seg = ms.drop_and_impact(rng, fs, pose, end, descent_s=_u(rng, 0.5, 0.8), residual_g=_u(rng, 0.5, 0.8),
                                     impact_g=_u(rng, 0.6, 2.0), impact_s=_u(rng, 0.12, 0.3), settle_s=1.0,
                                     posture="lying", label="lie_down_fast", is_fall=False, rotate_power=1.0)
        else:
            seg = ms.transition(rng, fs, _u(rng, 3, 5), pose, end, "lying", dip=0.1)
        return [("lie_down_fast" if fast else "lie_down", seg), ("lying", _still(rng, fs, 5, 20, end, "lying"))]

    return make


def _bend(rng: np.random.Generator, p: Persona, fs: float, pose: Pose) -> list[tuple[str, ms.Segment]]:
    bent = (_u(rng, 1.1, 1.5), 0.0)
    down = ms.transition(rng, fs, _u(rng, 0.8, 1.2), pose, bent, "standing", dip=0.15)
    hold = _still(rng, fs, 0.5, 2.0, bent, "standing")
    up = ms.transition(rng, fs, _u(rng, 0.8, 1.3), bent, (0.0, 0.0), "standing", dip=-0.15)
    return [("bend_pick_up", down), ("bend_pick_up", hold), ("bend_pick_up", up)]


def _jump(rng: np.random.Generator, p: Persona, fs: float, pose: Pose) -> list[tuple[str, ms.Segment]]:
    crouch = ms.transition(rng, fs, _u(rng, 0.35, 0.5), pose, (0.25, 0.0), "standing", dip=0.3)
    n_push = max(2, round(fs * _u(rng, 0.15, 0.2)))
    push = ms.still(rng, fs, n_push / fs, 0.25, 0.0, "standing")
    push.acc[:, 2] += _u(rng, 1.0, 1.5) * np.sin(np.pi * (np.arange(n_push) + 0.5) / n_push)
    land = ms.drop_and_impact(rng, fs, (0.1, 0.0), (0.15, 0.0), descent_s=_u(rng, 0.25, 0.45),
                              residual_g=_u(rng, 0.0, 0.05), impact_g=_u(rng, 2.5, 5.0), impact_s=_u(rng, 0.06, 0.1),
                              settle_s=1.0, posture="standing", label="jump", is_fall=False, rotate_power=1.0)
    back = ms.transition(rng, fs, 0.6, (0.15, 0.0), (0.0, 0.0), "standing", dip=0.05)
    return [("jump", crouch), ("jump", push), ("jump", land), ("jump", back)]


def _walk_stop(stairs: bool) -> Activity:
    """A walk (or a flight of stairs) that ends with a firm braking step, then standing still: the
    moment the 1.0.0 detector raised most of its false alarms on real data."""

    def make(rng: np.random.Generator, p: Persona, fs: float, pose: Pose) -> list[tuple[str, ms.Segment]]:
        label = "stairs_stop" if stairs else "walk_stop"
        walk = ms.gait(rng, fs, _u(rng, 4, 12), p.cadence_hz * (0.9 if stairs else 1.0),
                       p.gait_g * (1.3 if stairs else 1.0), heel=0.6 if stairs else 0.0)
        stop = ms.stop_step(rng, fs, _u(rng, 0.5, 1.8))
        return [(label, walk), (label, stop), ("standing", _still(rng, fs, 4, 12, (0.0, 0.0), "standing"))]

    return make


def _sit_to_lie(rng: np.random.Generator, p: Persona, fs: float, pose: Pose) -> list[tuple[str, ms.Segment]]:
    """From sitting to lying on a bed or sofa, sometimes letting the trunk drop the last bit."""
    end = _lying_pose(rng, str(rng.choice(["backward", "side"])))
    if rng.uniform() < 0.5:
        seg = ms.transition(rng, fs, _u(rng, 1.5, 3.5), pose, end, "lying", dip=0.1)
    else:
        seg = ms.drop_and_impact(rng, fs, pose, end, descent_s=_u(rng, 0.5, 0.9), residual_g=_u(rng, 0.55, 0.85),
                                 impact_g=_u(rng, 0.4, 1.5), impact_s=_u(rng, 0.12, 0.3), settle_s=1.0,
                                 posture="lying", label="sit_to_lie", is_fall=False, rotate_power=1.0)
    return [("sit_to_lie", seg), ("lying", _still(rng, fs, 5, 30, end, "lying"))]


def _off_pose(rng: np.random.Generator) -> Pose:
    """Any orientation of a device put down (gravity along any direction in its frame)."""
    return _u(rng, -ms.HALF_PI, ms.HALF_PI), _u(rng, -np.pi, np.pi)


def _take_off(rng: np.random.Generator, p: Persona, fs: float, pose: Pose) -> list[tuple[str, ms.Segment]]:
    """The device is taken off, handled, put down (a small knock) and left on a table."""
    end = _off_pose(rng)
    hand = ms.handling(rng, fs, _u(rng, 2.0, 5.0), pose, end, "off_body")
    knock = ms.drop_and_impact(rng, fs, end, end, descent_s=0.1, residual_g=_u(rng, 0.7, 0.95),
                               impact_g=_u(rng, 0.2, 1.0), impact_s=_u(rng, 0.02, 0.06), settle_s=0.5,
                               posture="off_body", label="put_down", is_fall=False, rotate_power=1.0)
    knock.events = [(a, b, "device_removed", "device") for a, b, _, _ in knock.events]
    return [("take_off", hand), ("take_off", knock), ("off_body", ms.device_still(fs, _u(rng, 20, 90), *end))]


def _drop_device(rng: np.random.Generator, p: Persona, fs: float, pose: Pose) -> list[tuple[str, ms.Segment]]:
    """The device slips off (belt clip, hand) and falls to the floor (a hard impact) or onto a bed."""
    end = _off_pose(rng)
    floor = rng.uniform() < 0.6
    seg = ms.device_drop(rng, fs, pose, end, height_m=_u(rng, 0.4, 1.2),
                         impact_g=_u(rng, 3.0, 12.0) if floor else _u(rng, 0.5, 2.5),
                         impact_s=_u(rng, 0.02, 0.05) if floor else _u(rng, 0.06, 0.15))
    seg.events = [(a, b, "device_removed", "device") for a, b, _, _ in seg.events]
    return [("drop_device", seg), ("off_body", ms.device_still(fs, _u(rng, 20, 90), *end))]


def _put_on(rng: np.random.Generator, p: Persona, fs: float, pose: Pose) -> list[tuple[str, ms.Segment]]:
    """The device is picked up and worn again."""
    return [("put_on", ms.handling(rng, fs, _u(rng, 2.0, 5.0), pose, (0.0, 0.0), "standing"))]


def _simple(label: str, posture: str, lo: float, hi: float) -> Activity:
    def make(rng: np.random.Generator, p: Persona, fs: float, pose: Pose) -> list[tuple[str, ms.Segment]]:
        return [(label, _still(rng, fs, lo, hi, pose, posture))]

    return make


def _stand_up(rng: np.random.Generator, p: Persona, fs: float, pose: Pose) -> list[tuple[str, ms.Segment]]:
    return [("stand_up", ms.transition(rng, fs, _u(rng, 1.2, 2.0), pose, (0.0, 0.0), "standing", lean=0.5, dip=-0.2))]


def _run(rng: np.random.Generator, p: Persona, fs: float, pose: Pose) -> list[tuple[str, ms.Segment]]:
    return [("running", ms.running(rng, fs, _u(rng, 4, 12)))]


def _device_rest(rng: np.random.Generator, p: Persona, fs: float, pose: Pose) -> list[tuple[str, ms.Segment]]:
    return [("off_body", ms.device_still(fs, _u(rng, 20, 90), *pose))]


def _get_up_activity(rng: np.random.Generator, p: Persona, fs: float, pose: Pose) -> list[tuple[str, ms.Segment]]:
    return _get_up(rng, fs, pose)


#: posture -> (activity name, weight, weight multiplied by the persona's fall risk?, generator)
CHAIN: dict[str, list[tuple[str, float, bool, Activity]]] = {
    "standing": [
        ("walking", 20, False, _walking), ("standing", 10, False, _simple("standing", "standing", 3, 10)),
        ("running", 4, False, _run), ("stairs_up", 4, False, _stairs(True)), ("stairs_down", 4, False, _stairs(False)),
        ("sit_down", 8, False, _sit_down(False)), ("sit_down_hard", 6, False, _sit_down(True)),
        ("lie_down", 3, False, _lie_down(False)), ("lie_down_fast", 5, False, _lie_down(True)),
        ("bend_pick_up", 8, False, _bend), ("jump", 5, False, _jump),
        ("fall_forward", 3, True, _fall("fall_forward", "forward")),
        ("fall_backward", 3, True, _fall("fall_backward", "backward")),
        ("fall_sideways", 3, True, _fall("fall_sideways", "side")),
        ("collapse", 2, True, _fall("collapse", "side")),
        ("walk_stop", 8, False, _walk_stop(False)), ("stairs_stop", 3, False, _walk_stop(True)),
        ("take_off", 1, False, _take_off), ("drop_device", 1, False, _drop_device),
    ],
    "sitting": [
        ("sitting", 4, False, _simple("sitting", "sitting", 5, 15)), ("stand_up", 10, False, _stand_up),
        ("fall_from_chair", 2, True, _fall("fall_from_chair", "forward")), ("lie_down", 1, False, _lie_down(False)),
        ("sit_to_lie", 2, False, _sit_to_lie),
    ],
    "lying": [("lying", 3, False, _simple("lying", "lying", 5, 20)), ("get_up", 10, False, _get_up_activity)],
    "off_body": [("off_body", 1, False, _device_rest), ("put_on", 3, False, _put_on)],
}


def random_mount(rng: np.random.Generator) -> np.ndarray:
    """A uniformly random 3-D rotation (how a sensor may sit in a pocket, a clip or a strap)."""
    from scipy.spatial.transform import Rotation

    return np.asarray(Rotation.random(random_state=int(rng.integers(0, 2**31 - 1))).as_matrix())


@dataclass
class MotionBlock:
    """Samples of one activity (and what follows it), with annotations relative to the block start."""

    acc: np.ndarray  # (n, 3) g
    gyro: np.ndarray  # (n, 3) deg/s
    events: list[tuple[float, float, str, str]]


@dataclass
class MotionGenerator:
    """One persona's activities, one block at a time.

    ``fall_rate_per_h`` None: falls are drawn from the activity chain with the other activities (the
    enriched training recordings: ~48 falls per hour). A number: the chain never picks a fall by
    itself; falls happen as a Poisson process at that rate (:mod:`firmware_sim.rates`), as soon as
    the posture allows one after their due time. A scripted activity is performed whatever the rate.
    """

    persona: Persona
    fs: float
    rng: np.random.Generator
    posture: str = "standing"
    pose: Pose = (0.0, 0.0)
    #: sensor axes relative to the body (3x3 rotation, sensor = mount @ body); None: body axes
    mount: np.ndarray | None = None
    fall_rate_per_h: float | None = None
    _bias: np.ndarray = field(default_factory=lambda: np.zeros(6))
    _noise: tuple[float, float] = (0.0, 0.0)
    _t: float = 0.0  # seconds generated so far
    _next_fall: float = float("inf")

    def __post_init__(self) -> None:
        self._bias = np.concatenate([self.rng.normal(0, 0.01, 3), self.rng.normal(0, 0.5, 3)])
        self._noise = (float(self.rng.uniform(*ACC_NOISE_G)), float(self.rng.uniform(*GYRO_NOISE_DPS)))
        if self.fall_rate_per_h:
            self._next_fall = float(self.rng.exponential(3600.0 / self.fall_rate_per_h))

    def next_block(self, activity: str | None = None) -> MotionBlock:
        """Draw the next activity from the posture's chain (or perform ``activity``, which must be one
        the current posture allows — scripted scenarios and tests) and measure it."""
        options = CHAIN[self.posture]
        if activity is not None:
            named = [o for o in options if o[0] == activity]
            if not named:
                allowed = ", ".join(o[0] for o in options)
                raise ValueError(f"{activity!r} cannot follow posture {self.posture!r}; allowed: {allowed}")
            choice = named[0]
        elif self.fall_rate_per_h is None:
            weights = np.array([w * (self.persona.fall_risk if risky else 1.0) for _, w, risky, _ in options])
            choice = options[int(self.rng.choice(len(options), p=weights / weights.sum()))]
        else:
            choice = self._rate_driven_choice(options)
        parts = choice[3](self.rng, self.persona, self.fs, self.pose)
        self._blend(parts)
        if self.persona.placement == "wrist":
            for _, seg in parts:
                if seg.posture != "off_body":
                    self._wrist(seg)
        events: list[tuple[float, float, str, str]] = []
        t = 0.0
        current = -1  # index in events of the activity annotation being extended
        for label, seg in parts:
            dur = len(seg.pitch) / self.fs
            if current >= 0 and events[current][2] == label:
                events[current] = (events[current][0], t + dur, label, "activity")
            else:
                current = len(events)
                events.append((t, t + dur, label, "activity"))
            events.extend((t + a, t + b, lab, kind) for a, b, lab, kind in seg.events)
            t += dur
        self._t += t
        last = parts[-1][1]
        self.posture = last.posture
        self.pose = (float(last.pitch[-1]), float(last.roll[-1]))
        acc, gyro = self._measure([seg for _, seg in parts])
        return MotionBlock(acc, gyro, events)

    def _rate_driven_choice(self, options: list[tuple[str, float, bool, Activity]]
                            ) -> tuple[str, float, bool, Activity]:
        """A fall when one is due and the posture allows it, else an activity that is not a fall."""
        falls = [o for o in options if o[2]]
        if falls and self._t >= self._next_fall:
            assert self.fall_rate_per_h
            self._next_fall = self._t + float(self.rng.exponential(3600.0 / self.fall_rate_per_h))
            pick = falls
        else:
            pick = [o for o in options if not o[2]]
        weights = np.array([o[1] for o in pick], dtype=np.float64)
        return pick[int(self.rng.choice(len(pick), p=weights / weights.sum()))]

    def _wrist(self, seg: ms.Segment) -> None:
        """A wrist-worn sensor: the forearm swings with the gait (about +-30 deg, up to ~170 deg/s and
        +-1 g of tangential acceleration at 0.6 m from the shoulder) and the watch sits rolled on the
        wrist; in still postures the arm rests."""
        seg.roll = seg.roll + 0.35
        if seg.gyro_extra is None:
            return
        swing = seg.gyro_extra[:, 2] / max(1e-6, float(np.abs(seg.gyro_extra[:, 2]).max()))
        arm = 0.5 * swing
        seg.pitch = seg.pitch + arm
        seg.acc[:, 0] += 0.6 * np.gradient(np.gradient(arm)) * self.fs**2 / 9.81

    def _blend(self, parts: list[tuple[str, ms.Segment]]) -> None:
        """Make each segment start where the previous one ended (fading the offset out over 0.5 s),
        so that joining segments never shows up as a jump in orientation or a gyroscope spike."""
        prev = self.pose
        for _, seg in parts:
            fade = np.clip(1.0 - np.arange(len(seg.pitch)) / (0.5 * self.fs), 0.0, 1.0)
            seg.pitch = seg.pitch + (prev[0] - seg.pitch[0]) * fade
            seg.roll = seg.roll + (prev[1] - seg.roll[0]) * fade
            prev = (float(seg.pitch[-1]), float(seg.roll[-1]))

    def _measure(self, segs: list[ms.Segment]) -> tuple[np.ndarray, np.ndarray]:
        pitch = np.concatenate([s.pitch for s in segs])
        roll = np.concatenate([s.roll for s in segs])
        yaw = np.concatenate([s.yaw_rate for s in segs])
        f = np.concatenate([s.acc for s in segs]) + np.array([0.0, 0.0, 1.0])
        extra = np.concatenate([s.gyro_extra if s.gyro_extra is not None else np.zeros((len(s.pitch), 3))
                                for s in segs])
        c, s_ = np.cos(pitch), np.sin(pitch)
        gx, gy, gz = c * f[:, 0] - s_ * f[:, 2], f[:, 1], s_ * f[:, 0] + c * f[:, 2]
        cr, sr = np.cos(roll), np.sin(roll)
        acc = np.stack([gx, cr * gy + sr * gz, -sr * gy + cr * gz], axis=1)
        n = len(pitch)
        gyro = np.stack([np.gradient(roll), np.gradient(pitch), yaw / self.fs], axis=1) * self.fs * (180 / np.pi)
        gyro += extra
        if self.mount is not None:
            acc = acc @ self.mount.T
            gyro = gyro @ self.mount.T
        acc += self._bias[:3] + self.rng.normal(0, self._noise[0], (n, 3))
        gyro += self._bias[3:] + self.rng.normal(0, self._noise[1], (n, 3))
        return (np.clip(acc, -ACC_RANGE_G, ACC_RANGE_G), np.clip(gyro, -GYRO_RANGE_DPS, GYRO_RANGE_DPS))


@dataclass
class MotionStream:
    """A live wearable: ``render(n)`` gives the next ``n`` samples of (acc, gyro); events are queued
    with times from the stream start in ``pending_events``."""

    generator: MotionGenerator
    schedule: list[str] = field(default_factory=list)  # activities to perform first, in order
    _acc: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    _gyro: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    _t_buffer: float = 0.0  # stream time of the first buffered sample
    pending_events: list[tuple[float, float, str, str]] = field(default_factory=list)

    def render(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        fs = self.generator.fs
        while len(self._acc) < n:
            block = self.generator.next_block(self.schedule.pop(0) if self.schedule else None)
            t_block = self._t_buffer + len(self._acc) / fs
            self.pending_events.extend((t_block + a, t_block + b, lab, kind) for a, b, lab, kind in block.events)
            self._acc = np.concatenate([self._acc, block.acc])
            self._gyro = np.concatenate([self._gyro, block.gyro])
        acc, gyro = self._acc[:n], self._gyro[:n]
        self._acc, self._gyro = self._acc[n:], self._gyro[n:]
        self._t_buffer += n / fs
        return acc, gyro
