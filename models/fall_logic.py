"""Fall detection around a model, as pure per-device logic (numpy only): find impacts, hand their
windows to the model, and judge each impact on what the body does afterwards.

One :class:`FallTracker` per device. Feed it the device's samples as they arrive (acceleration in g,
angular rate in deg/s, both at the device's rate); it returns

1. :class:`ImpactWindow` s — each impact (a burst of ``|a|`` above :attr:`FallLogicConfig.screen_g`)
   with its orientation-invariant model input (:func:`models.preprocessing.motion.impact_window`),
   as soon as 0.6 s after the peak has arrived. The caller runs the model (batched across devices
   if it likes) and gives the fall probability back with :meth:`FallTracker.score`.
2. :class:`FallDecision` s — once :attr:`FallLogicConfig.decide_after_s` (<= 10 s) has passed after an
   impact, one decision per impact: ``fall`` (raise an alert), ``device_removed`` (a technical
   event: the sensor lies dead still, as on a table or on the floor after it was dropped), or
   ``rejected`` with the reason. :meth:`FallTracker.not_worn` adds ``device_removed`` without an
   impact (taken off gently and put down).

What a fall leaves behind, and so what confirms one (Bourke 2007, Kangas 2008, Bagala 2012):

* **posture relative to gravity**: the trunk ends far from where it was before the fall. With an
  unknown mount the absolute posture cannot be read, but the *change* can: the angle between the
  gravity direction before the fall (mean acceleration 4.0-1.5 s before the impact, while the person
  was still upright) and after it (mean over the observation) must exceed
  :attr:`FallLogicConfig.posture_change_deg`. This is what an ordinary stop after a walk, sitting
  down hard or a jump never shows (they end upright).
* **time on the ground**: that changed orientation must hold through the whole observation (every
  0.5 s mean stays past the threshold), not only at one instant.
* **inactivity**: little movement over the observation (std of ``|a|`` and mean ``|w|`` below
  limits) — a person who got up or walks on is not lying after a fall.
* a **device removed** is told from a person by the absence of any body motion: a body on the floor
  still breathes and shifts (the gravity direction wobbles by tenths of a degree, the gyroscope reads
  tenths of a deg/s and more), a device on a table or the floor does not. Measured on the real kse801
  recording: the phone and the watch on a table moved their 0.5 s gravity direction by at most
  0.07 deg and their 0.5 s mean angular rate by at most 0.044 deg/s over 5 s; the same phone carried
  by a person sitting or standing still, 0.04-0.7 deg and 0.09-3 deg/s. The limits sit between
  (0.15 deg, 0.08 deg/s); a very still person without a gyroscope is the case they can confuse.

Every impact is judged on its own: there is no refractory period, so a real fall two seconds after a
false one raises its own alert. Peaks closer together than :attr:`FallLogicConfig.burst_gap_s` are one
impact (the bounces of one fall).

Plugging it into a stream (the edge, :func:`cloud.eval_fall.run_detector`): per device, on every
accelerometer frame, ``windows = tracker.push(acc, gyro)``; run the model on ``[w.x for w in windows]``
(batched with other devices' windows if convenient) and call ``tracker.score(w.impact_id, p_fall)``;
then emit ``tracker.decisions()`` (``fall`` -> a high-priority alert whose id can be derived from the
device and ``impact_id``/``t_s``; ``device_removed`` -> a technical event; ``rejected`` -> nothing or
an inference event) and ``tracker.not_worn()``. The gyroscope must be resampled to the
accelerometer's rate and aligned with it; a gap in the stream starts a new tracker (times are seconds
since the tracker's first sample) after :meth:`FallTracker.signal_lost` on the old one, which decides
its pending impacts (``signal_lost`` -> a "possible fall: signal lost after impact" alert). State per
device: about 16 s of samples plus a few impacts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from models.preprocessing.motion import IMPACT_AT_S, WINDOW_S, impact_window

#: Decision kinds.
FALL = "fall"
DEVICE_REMOVED = "device_removed"
REJECTED = "rejected"
#: the stream broke off after a fall-like impact, before the impact could be judged
SIGNAL_LOST = "signal_lost"


@dataclass(frozen=True, slots=True)
class FallLogicConfig:
    """Thresholds of the logic around the model (defaults: trunk-worn sensor)."""

    #: an impact is a burst of |a| above this (g); every burst is shown to the model
    screen_g: float = 1.8
    #: peaks separated by less than this (s) below the screen are one impact
    burst_gap_s: float = 0.5
    #: a burst longer than this (s; running) is cut into several impacts
    burst_max_s: float = 1.0
    #: the model's fall probability needed for a candidate
    score_threshold: float = 0.5
    #: when the decision is taken, s after the impact (an alert may wait up to 10 s)
    decide_after_s: float = 7.0
    #: the observation window runs from this long after the impact (s) to the decision
    observe_from_s: float = 2.5
    #: minimum angle (deg) between gravity before and after the impact
    posture_change_deg: float = 40.0
    #: inactivity: std of |a| (g) and mean |w| (deg/s) over the observation must stay below these
    still_acc_std_g: float = 0.12
    still_gyro_dps: float = 25.0
    #: device removed: over the observation the 0.5 s gravity direction moves less than this (deg),
    #: the 0.5 s mean |a| varies less than this (g), and (with a gyroscope) the 0.5 s mean |w| stays
    #: below this (deg/s, after removing its median as the gyroscope's bias)
    removed_tilt_deg: float = 0.15
    removed_acc_g: float = 0.003
    removed_gyro_dps: float = 0.08
    #: device removed without an impact after this long dead still (s)
    not_worn_s: float = 30.0
    #: when the stream breaks off (:meth:`FallTracker.signal_lost`), an impact with at least this much
    #: observation (s, from ``observe_from_s``) is judged on it; with less it is ``signal_lost``
    lost_observed_s: float = 2.0
    #: an impact the signal broke off from (``signal_lost``) waits this long (s) for the signal to come
    #: back, then is judged on the first :attr:`resume_observe_s` after it (:func:`judge_after_gap`)
    lost_wait_s: float = 8.0
    resume_observe_s: float = 2.0

    def __post_init__(self) -> None:
        if not 0 < self.observe_from_s < self.decide_after_s <= 10.0:
            raise ValueError("need 0 < observe_from_s < decide_after_s <= 10 s (an alert waits at most 10 s)")


@dataclass(frozen=True, slots=True)
class ImpactWindow:
    """An impact awaiting its model score: ``x`` is the model input ``(WINDOW, 6)``."""

    impact_id: int
    t_s: float  # impact (peak) time, s on the tracker's clock
    peak_g: float
    x: np.ndarray


@dataclass(frozen=True, slots=True)
class FallDecision:
    """The outcome for one impact (or, with ``impact_id`` -1, a device left dead still)."""

    kind: str  # FALL | DEVICE_REMOVED | REJECTED | SIGNAL_LOST
    impact_id: int
    t_s: float  # impact time (or the start of the stillness), s on the tracker's clock
    decided_t_s: float
    score: float | None  # model fall probability (None: no model score was needed)
    peak_g: float
    reason: str  # why (for REJECTED), or what confirmed it
    posture_change_deg: float | None = None
    #: SIGNAL_LOST only: the mean acceleration (g, sensor axes) before the impact, to compare the
    #: posture with once the signal is back (None: no stretch before the impact was held)
    gravity_before: tuple[float, float, float] | None = None


@dataclass(slots=True)
class _Pending:
    impact_id: int
    index: int  # sample index of the peak
    peak_g: float
    window_sent: bool = False
    score: float | None = None


@dataclass
class FallTracker:
    """Per-device state: a rolling buffer of samples, the open burst, and impacts awaiting a decision.

    ``rate_hz`` is the device's sample rate (acceleration and gyroscope alike; resample a gyroscope
    at another rate before pushing). Times are seconds since the first sample pushed.
    """

    rate_hz: float
    config: FallLogicConfig = field(default_factory=FallLogicConfig)
    #: the wearer's mean acceleration (g) from before this tracker (the one a gap ended), the posture an
    #: impact is compared with when this tracker holds none from before it (it started < 4 s before)
    posture_hint: tuple[float, float, float] | None = None
    #: samples held (rows ``[:_n]``; the capacity grows, the start is dropped in steps by :meth:`_trim`):
    #: appending into them costs no copy of the history per push (the edge pushes every frame)
    _abuf: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    _gbuf: np.ndarray | None = None
    _n: int = 0
    _offset: int = 0  # absolute sample index of _acc[0]
    _burst: tuple[int, int, float] | None = None  # (last index above screen, peak index, peak g)
    _burst_start: int = 0
    _pending: list[_Pending] = field(default_factory=list)
    _next_id: int = 0
    _still_since: int | None = None  # absolute index where the current dead-still stretch began
    _not_worn_reported: bool = False
    _has_gyro: bool | None = None
    _block_pos: int = 0  # absolute index of the next 0.5 s stillness block
    _prev_block: tuple[tuple[float, ...], tuple[float, ...] | None] | None = None

    def __post_init__(self) -> None:
        if not self.rate_hz > 0:
            raise ValueError(f"rate_hz must be positive, got {self.rate_hz}")

    @property
    def total(self) -> int:
        """Samples pushed so far."""
        return self._offset + self._n

    def latest(self, n: int) -> np.ndarray:
        """The newest ``n`` acceleration samples held (fewer if fewer are), oldest first (a view)."""
        return self._abuf[max(0, self._n - n): self._n]

    @property
    def _acc(self) -> np.ndarray:
        return self._abuf[: self._n]

    @property
    def _gyro(self) -> np.ndarray | None:
        return None if self._gbuf is None else self._gbuf[: self._n]

    @property
    def dead_still(self) -> bool:
        """Whether the latest 0.5 s blocks show no body motion at all (a device lying somewhere)."""
        return self._still_since is not None

    def push(self, acc: np.ndarray, gyro: np.ndarray | None = None) -> list[ImpactWindow]:
        """Append samples (``(n, 3)`` g and optionally ``(n, 3)`` deg/s); returns the impacts whose
        model input is now complete. A device either always or never sends a gyroscope."""
        a = acc if acc.dtype == np.float64 and acc.ndim == 2 else np.asarray(acc, dtype=np.float64).reshape(-1, 3)
        if gyro is not None:
            g = gyro if gyro.dtype == np.float64 and gyro.ndim == 2 else np.asarray(gyro, np.float64).reshape(-1, 3)
            if len(g) != len(a):
                raise ValueError(f"gyro: {len(g)} samples for {len(a)} acceleration samples (same rate needed)")
        else:
            g = None
        if self._has_gyro is None:
            self._has_gyro = g is not None
        elif self._has_gyro != (g is not None):
            raise ValueError("gyro: a device sends a gyroscope with every push or never")
        start = self.total
        self._append(a, g)
        self._find_bursts(start, np.sqrt(np.einsum("ij,ij->i", a, a)))
        ready = self._ready_windows()
        self._update_stillness()
        self._trim()
        return ready

    def score(self, impact_id: int, fall_probability: float) -> None:
        """The model's fall probability for an impact returned by :meth:`push`."""
        for p in self._pending:
            if p.impact_id == impact_id:
                p.score = float(fall_probability)
                return
        raise KeyError(f"impact {impact_id}: not pending (already decided, or never returned by push)")

    def decisions(self) -> list[FallDecision]:
        """Decide every impact whose observation is complete (in impact order); a scored impact is
        never decided before its score arrives."""
        if not self._pending:
            return []
        out: list[FallDecision] = []
        due = round(self.config.decide_after_s * self.rate_hz)
        keep: list[_Pending] = []
        for p in self._pending:
            if self.total - 1 >= p.index + due and (p.score is not None or not p.window_sent):
                out.append(self._decide(p))
            else:
                keep.append(p)
        self._pending = keep
        return out

    def signal_lost(self) -> list[FallDecision]:
        """The stream broke off here (a sequence gap, a change of rate): nothing pushed after this call
        belongs to this tracker. Decide every pending impact on what it has, so none vanishes:

        * the model already scored it below the threshold: rejected, as it would have been;
        * its observation had at least :attr:`FallLogicConfig.lost_observed_s`: judged on that part
          (the reason says so) — a person who got up, or lies still, shows it within two seconds;
        * otherwise ``signal_lost``: a possible fall nobody could confirm (the caller raises it).

        An impact whose model input went out and whose score has not come back stays pending: call
        this again after :meth:`score` (the caller keeps the tracker until :attr:`pending` is 0). An
        open burst is closed first: the signal broke off during an impact."""
        self._close_burst()
        cfg, fs = self.config, self.rate_hz
        after = round((WINDOW_S - IMPACT_AT_S) * fs)
        enough = round((cfg.observe_from_s + cfg.lost_observed_s) * fs)
        last = self.total - 1
        out: list[FallDecision] = []
        keep: list[_Pending] = []
        for p in self._pending:
            if p.window_sent and p.score is None:
                keep.append(p)  # its score is on the way
                continue
            complete_window = self.total >= p.index + after
            if (p.score is not None and p.score < cfg.score_threshold) or (p.score is None and complete_window):
                out.append(self._decide(p))  # the model cleared it, or no model input exists (stream start)
            elif last - p.index >= enough:
                d = self._decide(p)
                seen = (last - p.index) / fs
                out.append(FallDecision(d.kind, d.impact_id, d.t_s, d.decided_t_s, d.score, d.peak_g,
                                        f"{d.reason} (signal lost {seen:.1f} s after the impact; judged on what "
                                        "came before)", d.posture_change_deg))
            else:
                seen = max(0.0, (last - p.index) / fs)
                out.append(FallDecision(SIGNAL_LOST, p.impact_id, p.index / fs, last / fs, p.score, p.peak_g,
                                        f"signal lost {seen:.1f} s after the impact, before it could be judged",
                                        gravity_before=self._posture_before(p)))
        self._pending = keep
        return out

    @property
    def pending(self) -> int:
        """Impacts not decided yet."""
        return len(self._pending)

    def posture(self, seconds: float = 2.0) -> tuple[float, float, float] | None:
        """Mean acceleration (g) of the newest ``seconds`` when no impact is awaiting its decision (a
        stretch of ordinary posture to compare with after a gap), else None."""
        n = round(seconds * self.rate_hz)
        if self.undecided or self.total < n:
            return None
        ax, ay, az = np.mean(self.latest(n), axis=0).tolist()
        return (ax, ay, az)

    @property
    def undecided(self) -> bool:
        """An impact awaits its decision, or a burst is still open (an impact in the making)."""
        return bool(self._pending) or self._burst is not None

    def not_worn(self) -> FallDecision | None:
        """``device_removed`` once the device has lain dead still for :attr:`FallLogicConfig.not_worn_s`
        (then nothing until it moves again)."""
        if self._still_since is None or self._not_worn_reported:
            return None
        if self.total - self._still_since < self.config.not_worn_s * self.rate_hz:
            return None
        self._not_worn_reported = True
        t = self._still_since / self.rate_hz
        return FallDecision(DEVICE_REMOVED, -1, t, self.total / self.rate_hz, None, 0.0, "no body motion")

    # -- internals ---------------------------------------------------------------------------------

    def _find_bursts(self, start: int, norm: np.ndarray) -> None:
        cfg = self.config
        if self._burst is None and (len(norm) == 0 or float(norm.max()) < cfg.screen_g):
            return  # the usual case: nothing near an impact
        gap = round(cfg.burst_gap_s * self.rate_hz)
        longest = round(cfg.burst_max_s * self.rate_hz)
        above = np.flatnonzero(norm >= cfg.screen_g)
        for i in above:
            idx = start + int(i)
            value = float(norm[i])
            b = self._burst
            if b is not None and (idx - b[0] > gap or idx - self._burst_start >= longest):
                self._close_burst()
                b = None
            if b is None:
                self._burst_start = idx
                self._burst = (idx, idx, value)
            else:
                self._burst = (idx, b[1], b[2]) if value <= b[2] else (idx, idx, value)
        b = self._burst
        if b is not None and self.total - 1 - b[0] > gap:
            self._close_burst()

    def _close_burst(self) -> None:
        b = self._burst
        if b is None:
            return
        self._pending.append(_Pending(self._next_id, b[1], b[2]))
        self._next_id += 1
        self._burst = None

    def _ready_windows(self) -> list[ImpactWindow]:
        if not self._pending:
            return []
        after = round((WINDOW_S - IMPACT_AT_S) * self.rate_hz)
        ready = []
        for p in self._pending:
            if p.window_sent or self.total < p.index + after:
                continue
            local = p.index - self._offset
            gyro = self._gyro
            x = impact_window(self._acc, self.rate_hz, local, gyro)
            p.window_sent = x is not None  # an impact too close to the start is judged without a model
            if x is not None:
                ready.append(ImpactWindow(p.impact_id, p.index / self.rate_hz, p.peak_g, x))
        return ready

    def _append(self, a: np.ndarray, g: np.ndarray | None) -> None:
        n, end = self._n, self._n + len(a)
        if end > len(self._abuf):
            cap = max(2 * len(self._abuf), end, 256)
            grown = np.empty((cap, 3))
            grown[:n] = self._abuf[:n]
            self._abuf = grown
            if self._gbuf is not None:
                grown_g = np.empty((cap, 3))
                grown_g[:n] = self._gbuf[:n]
                self._gbuf = grown_g
        if g is not None and self._gbuf is None:
            self._gbuf = np.empty((len(self._abuf), 3))
        self._abuf[n:end] = a
        if g is not None and self._gbuf is not None:
            self._gbuf[n:end] = g
        self._n = end

    def _trim(self) -> None:
        """Keep enough history for the oldest pending impact (4 s before it) and the stillness check."""
        if self._n < round((self.config.decide_after_s + 7.0) * self.rate_hz):
            return  # nothing to drop yet (drops come in steps of 2 s past decide_after_s + 5 s)
        keep_from = self.total - round((self.config.decide_after_s + 5.0) * self.rate_hz)
        for p in self._pending:
            keep_from = min(keep_from, p.index - round(4.5 * self.rate_hz))
        if self._burst is not None:
            keep_from = min(keep_from, self._burst_start - round(4.5 * self.rate_hz))
        drop = keep_from - self._offset
        # in steps of two seconds or more: holding a little more history changes nothing, and the
        # buffers are moved once per step instead of once per push
        if drop >= max(1, round(2.0 * self.rate_hz)):
            keep = self._n - drop
            self._abuf[:keep] = self._abuf[drop:self._n]
            if self._gbuf is not None:
                self._gbuf[:keep] = self._gbuf[drop:self._n]
            self._n = keep
            self._offset += drop

    def _segment(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray | None]:
        lo_l, hi_l = max(0, lo - self._offset), max(0, hi - self._offset)
        g = None if self._gyro is None else self._gyro[lo_l:hi_l]
        return self._acc[lo_l:hi_l], g

    def _decide(self, p: _Pending) -> FallDecision:
        cfg, fs = self.config, self.rate_hz
        t = p.index / fs
        decided = (self.total - 1) / fs
        post_acc, post_gyro = self._segment(p.index + round(cfg.observe_from_s * fs), p.index + round(
            cfg.decide_after_s * fs) + 1)
        before = self._posture_before(p)
        base = (p.impact_id, t, decided, p.score, p.peak_g)
        if dead_still(post_acc, post_gyro, fs, cfg):
            return FallDecision(DEVICE_REMOVED, *base, "no body motion after the impact")
        if p.score is None:
            return self._without_model(base, before, post_acc, post_gyro)
        if p.score < cfg.score_threshold:
            return FallDecision(REJECTED, *base, "model: not a fall")
        if before is None:
            return FallDecision(REJECTED, *base, "no posture before the impact to compare with")
        pre_acc = np.asarray([before])
        change = posture_change_deg(pre_acc, post_acc)
        if change < cfg.posture_change_deg:
            return FallDecision(REJECTED, *base, "posture unchanged after the impact", change)
        if not stays_changed(pre_acc, post_acc, fs, cfg.posture_change_deg):
            return FallDecision(REJECTED, *base, "did not stay down", change)
        if not inactive(post_acc, post_gyro, cfg):
            return FallDecision(REJECTED, *base, "moving after the impact", change)
        return FallDecision(FALL, *base, "posture changed, stayed down, inactive", change)

    def _posture_before(self, p: _Pending) -> tuple[float, float, float] | None:
        """The wearer's mean acceleration (g) 4 to 1.5 s before the impact, or (less than 0.5 s of it held:
        the tracker started after a gap) :attr:`posture_hint`, the posture from before the gap."""
        fs = self.rate_hz
        pre_acc, _ = self._segment(p.index - round(4.0 * fs), p.index - round(1.5 * fs))
        if len(pre_acc) < round(0.5 * fs):
            return self.posture_hint
        ax, ay, az = np.mean(pre_acc, axis=0).tolist()
        return (ax, ay, az)

    def _without_model(self, base: tuple[int, float, float, float | None, float],
                       before: tuple[float, float, float] | None, post_acc: np.ndarray,
                       post_gyro: np.ndarray | None) -> FallDecision:
        """An impact the model could not see: the stream (re)started less than a window before it (after a
        gap, a device's first seconds). The model gate is missing, so the rules alone judge it and a fall
        they confirm is only a *possible* fall (``signal_lost``, its posture before attached): posture
        changed from before (or from before the gap), stayed down, inactive; anything else is rejected."""
        fs, cfg = self.rate_hz, self.config
        reason = "no model input (the stream started less than a window before the impact)"
        if before is None:
            return FallDecision(REJECTED, *base, f"{reason}; no posture before it to compare with")
        if len(post_acc) < round(0.5 * fs):  # the signal broke off again before the observation: wait for it
            return FallDecision(SIGNAL_LOST, *base, f"{reason}; signal lost before it could be judged",
                                gravity_before=before)
        ref = np.asarray([before])
        change = posture_change_deg(ref, post_acc)
        if change < cfg.posture_change_deg or not stays_changed(ref, post_acc, fs, cfg.posture_change_deg) \
                or not inactive(post_acc, post_gyro, cfg):
            return FallDecision(REJECTED, *base, f"{reason}; not down and still after it", change)
        return FallDecision(SIGNAL_LOST, *base, f"{reason}; posture changed, stayed down, inactive", change,
                            gravity_before=before)

    def _update_stillness(self) -> None:
        """Extend the current dead-still stretch over the 0.5 s blocks completed since the last call:
        a block is still when its mean gravity direction, mean |a| and mean angular rate (bias
        cancels in the difference) barely differ from the previous block's."""
        cfg, fs = self.config, self.rate_hz
        block = max(2, round(0.5 * fs))
        while self._block_pos + block <= self.total:
            lo = self._block_pos - self._offset
            if lo < 0:  # trimmed away already: restart from the buffer
                self._block_pos = self._offset
                self._prev_block = None
                continue
            # plain floats: this runs for every device every half second at the edge
            ax, ay, az = (np.add.reduce(self._abuf[lo:lo + block], axis=0) / block).tolist()
            a = (ax, ay, az)
            w = None if self._gbuf is None else tuple(
                (np.add.reduce(self._gbuf[lo:lo + block], axis=0) / block).tolist())
            prev = self._prev_block
            still = False
            if prev is not None:
                pa, pw = prev
                na, npa = math.sqrt(ax * ax + ay * ay + az * az), math.sqrt(sum(v * v for v in pa))
                cos = (ax * pa[0] + ay * pa[1] + az * pa[2]) / max(na * npa, 1e-9)
                still = (math.degrees(math.acos(min(1.0, max(-1.0, cos)))) < cfg.removed_tilt_deg
                         and abs(na - npa) < cfg.removed_acc_g)
                if still and w is not None and pw is not None:
                    still = math.sqrt(sum((x - y) ** 2 for x, y in zip(w, pw, strict=True))) < cfg.removed_gyro_dps
            if still:
                if self._still_since is None:
                    self._still_since = self._block_pos - block
            else:
                self._still_since = None
                self._not_worn_reported = False
            self._prev_block = (a, w)
            self._block_pos += block


def _block_means(x: np.ndarray, block: int) -> np.ndarray:
    n = (len(x) // block) * block
    return np.asarray(x[:n].reshape(-1, block, *x.shape[1:]).mean(axis=1))


def dead_still(acc: np.ndarray, gyro: np.ndarray | None, fs: float, cfg: FallLogicConfig) -> bool:
    """No body motion over the whole stretch: the 0.5 s gravity direction moves less than
    ``removed_tilt_deg`` from its mean, the 0.5 s mean |a| stays within ``removed_acc_g`` of its
    median, and the bias-free 0.5 s mean |w| stays below ``removed_gyro_dps``."""
    block = max(2, round(0.5 * fs))
    means = _block_means(acc, block)
    if len(means) < 3:
        return False
    unit = means / np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-9)
    centre = unit.mean(axis=0)
    centre /= max(float(np.linalg.norm(centre)), 1e-9)
    tilt = np.degrees(np.arccos(np.clip(unit @ centre, -1, 1)))
    mag = np.linalg.norm(means, axis=1)
    if tilt.max() >= cfg.removed_tilt_deg or np.abs(mag - np.median(mag)).max() >= cfg.removed_acc_g:
        return False
    if gyro is not None and len(gyro) >= block:
        gm = _block_means(gyro, block)
        gm = gm - np.median(gm, axis=0)
        if np.linalg.norm(gm, axis=1).max() >= cfg.removed_gyro_dps:
            return False
    return True


def judge_after_gap(lost: FallDecision, acc_after: np.ndarray | None, gone_s: float,
                    config: FallLogicConfig) -> FallDecision:
    """The outcome of a ``signal_lost`` impact once the signal is back (``acc_after``: the first
    :attr:`~FallLogicConfig.resume_observe_s` of acceleration after it, g, the same sensor axes) or has
    stayed away (``acc_after`` None, ``gone_s`` after the loss).

    A short gap on a lossy link is common and most impacts are steps: measured on the real daily-activity
    recordings with 1 % of 0.5 s frames lost, alerting at the gap itself raised ~13 "possible fall" alerts an
    hour and no fall. So the impact waits, and is judged as the detector judges any impact, on what the
    signal shows once back: posture as before the impact (gravity within
    :attr:`~FallLogicConfig.posture_change_deg` of its direction before), or moving, is ``rejected``;
    posture changed and still, no posture before the impact to compare with, or no signal within
    :attr:`~FallLogicConfig.lost_wait_s` stays ``signal_lost`` (the caller raises "possible fall"), its
    reason saying which."""
    base = (lost.impact_id, lost.t_s, lost.decided_t_s, lost.score, lost.peak_g)
    if acc_after is None:
        return replace(lost, reason=f"{lost.reason}; no signal for {gone_s:.0f} s")
    if lost.gravity_before is None:
        return replace(lost, reason=f"{lost.reason}; signal back, no posture before the impact to compare with")
    change = posture_change_deg(np.asarray([lost.gravity_before]), acc_after)
    if change < config.posture_change_deg:
        return FallDecision(REJECTED, *base, f"signal back {gone_s:.1f} s after the loss, posture as before the "
                            "impact", change)
    if not inactive(acc_after, None, config):
        return FallDecision(REJECTED, *base, f"signal back {gone_s:.1f} s after the loss, moving", change)
    return replace(lost, reason=f"{lost.reason}; signal back lying still, posture changed {change:.0f} deg",
                   posture_change_deg=change)


def posture_change_deg(pre_acc: np.ndarray, post_acc: np.ndarray) -> float:
    """Angle (deg) between the mean acceleration (the gravity direction) of two stretches."""
    a, b = np.mean(pre_acc, axis=0), np.mean(post_acc, axis=0)
    cos = float(a @ b) / max(float(np.linalg.norm(a) * np.linalg.norm(b)), 1e-9)
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))


def stays_changed(pre_acc: np.ndarray, post_acc: np.ndarray, fs: float, threshold_deg: float) -> bool:
    """Every 0.5 s mean of the observation points at least ``threshold_deg`` away from before."""
    block = max(2, round(0.5 * fs))
    means = _block_means(post_acc, block)
    if len(means) == 0:
        return False
    ref = np.mean(pre_acc, axis=0)
    ref = ref / max(float(np.linalg.norm(ref)), 1e-9)
    unit = means / np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-9)
    angles = np.degrees(np.arccos(np.clip(unit @ ref, -1, 1)))
    return bool(angles.min() >= threshold_deg)


def inactive(acc: np.ndarray, gyro: np.ndarray | None, cfg: FallLogicConfig) -> bool:
    """Little movement: std of |a| and mean |w| below the configured limits."""
    if len(acc) == 0:
        return False
    if float(np.std(np.linalg.norm(acc, axis=1))) >= cfg.still_acc_std_g:
        return False
    return gyro is None or len(gyro) == 0 or float(np.mean(np.linalg.norm(gyro, axis=1))) < cfg.still_gyro_dps


def classic_rule(
    acc: np.ndarray, fs: float, threshold_g: float, *, still_from_s: float = 1.0, still_s: float = 2.0,
    still_std_g: float = 0.1, refractory_s: float = 5.0,
) -> list[float]:
    """Alarm times (s) of the classic threshold rule: ``|a|`` above ``threshold_g`` (the impact), then
    stillness (std of ``|a|`` below ``still_std_g`` over ``still_s`` starting ``still_from_s`` after
    the impact). Impacts within ``refractory_s`` of an alarm are the same event (Bourke 2007 style
    with Kangas 2008's post-impact inactivity)."""
    norm = np.linalg.norm(np.asarray(acc, dtype=np.float64).reshape(-1, 3), axis=1)
    over = np.flatnonzero(norm > threshold_g)
    alarms: list[float] = []
    lo, n = round(still_from_s * fs), round(still_s * fs)
    last = -np.inf
    for i in over:
        t = i / fs
        if t - last < refractory_s:
            continue
        seg = norm[i + lo:i + lo + n]
        if len(seg) == n and float(np.std(seg)) < still_std_g:
            alarms.append(t)
            last = t
    return alarms
