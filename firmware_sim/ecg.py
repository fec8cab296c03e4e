"""Single-lead ECG waveform from beats: sum-of-Gaussians waves per beat, plus baseline and noise.

Rendering is a pure function of the beats and an absolute time window, so a recording rendered in
one piece and a live device rendering it frame by frame give the same beats; noise comes from the
caller's generator. :class:`EcgStream` is the chunked, stateful form used by live devices.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np

from firmware_sim.cardiac import N_WAVES, BeatGenerator, Beats, Episode
from firmware_sim.persona import Persona, make_persona

#: A beat's waves lie within this window around its R peak (seconds).
BEFORE_S = 0.35
AFTER_S = 0.8
#: Beats are kept this long after their R peak (a PPG pulse follows its beat by up to a second).
KEEP_S = 2.0


def render_beats(beats: Beats, t0: float, n: int, fs: float, before_s: float = BEFORE_S,
                 after_s: float = AFTER_S) -> np.ndarray:
    """The beats' waves on the ``n`` samples starting at time ``t0`` (s), sampled at ``fs``; each
    beat's waves lie within ``before_s``/``after_s`` of its time."""
    out = np.zeros(n)
    if len(beats.t) == 0:
        return out
    t1 = t0 + n / fs
    sel = (beats.t > t0 - after_s) & (beats.t < t1 + before_s)
    if not sel.any():
        return out
    bt = beats.t[sel]
    waves = beats.waves[sel]
    length = int(np.ceil((before_s + after_s) * fs)) + 1
    start = np.ceil((bt - before_s - t0) * fs).astype(np.int64)
    k = np.arange(length)
    rel = (start[:, None] + k[None, :]) / fs + t0 - bt[:, None]  # time relative to each R peak
    values = np.zeros_like(rel)
    for w in range(N_WAVES):
        amp = waves[:, w, 2]
        if not amp.any():
            continue
        z = (rel - waves[:, w, 0:1]) / waves[:, w, 1:2]
        values += amp[:, None] * np.exp(-0.5 * z * z)
    idx = start[:, None] + k[None, :]
    keep = (idx >= 0) & (idx < n)
    return out + np.bincount(idx[keep], weights=values[keep], minlength=n)


def af_waves(t: np.ndarray, episodes: list[Episode], amp_mv: float = 0.05) -> np.ndarray:
    """Fibrillatory f-waves (4-8 Hz, varying) during AF episodes, with 1 s fades."""
    out = np.zeros_like(t)
    for ep in episodes:
        if ep.label != "AF" or ep.end < t[0] or ep.start > t[-1]:
            continue
        env = np.clip(np.minimum(t - ep.start, ep.end - t), 0.0, 1.0)
        freq_phase = 2 * np.pi * (6.0 * t + 0.8 / (2 * np.pi * 0.13) * np.sin(2 * np.pi * 0.13 * t))
        out += env * amp_mv * (np.sin(freq_phase) + 0.4 * np.sin(2 * freq_phase + 1.3))
    return out


def baseline(t: np.ndarray, persona: Persona, resp_phase: np.ndarray | None = None) -> np.ndarray:
    """Baseline wander from respiration and slow electrode drift (mV); a function of absolute time."""
    phase = resp_phase if resp_phase is not None else 2 * np.pi * persona.resp_rate / 60.0 * t
    drift_phase = (zlib.crc32(persona.subject.encode()) % 1000) / 1000 * 2 * np.pi
    return 0.06 * np.sin(phase) + 0.05 * np.sin(2 * np.pi * 0.031 * t + drift_phase)


def noise(rng: np.random.Generator, t: np.ndarray, persona: Persona, fs: float) -> np.ndarray:
    """Sensor and muscle noise plus a little mains interference (mV)."""
    out: np.ndarray = np.asarray(rng.normal(0.0, persona.noise_mv, t.shape))
    if fs >= 200:
        out += 0.008 * np.sin(2 * np.pi * 50.0 * t)
    return out


@dataclass
class EcgStream:
    """A live ECG source: ``render(n)`` gives the next ``n`` samples in mV; ``take_beats()`` the truth."""

    persona: Persona
    fs: float
    rng: np.random.Generator
    generator: BeatGenerator | None = None
    _t: float = 0.0
    beats: Beats = field(default_factory=Beats.empty)  # recent beats (the last KEEP_S s and ahead)
    _unreported: list[tuple[float, str]] = field(default_factory=list)
    _episodes_reported: int = 0

    def __post_init__(self) -> None:
        if self.generator is None:
            self.generator = BeatGenerator(self.persona, self.rng)

    def render(self, n: int) -> np.ndarray:
        assert self.generator is not None
        t0 = self._t
        t1 = t0 + n / self.fs
        new = self.generator.until(t1 + BEFORE_S)
        if len(new.t):
            self._unreported.extend(zip(new.t.tolist(), new.labels, strict=True))
            keep = self.beats.t > t0 - KEEP_S
            self.beats = Beats(
                np.concatenate([self.beats.t[keep], new.t]),
                [lab for lab, k in zip(self.beats.labels, keep, strict=True) if k] + new.labels,
                np.concatenate([self.beats.waves[keep], new.waves]),
            )
        t = t0 + np.arange(n) / self.fs
        out = render_beats(self.beats, t0, n, self.fs)
        phase = self.generator.resp_phase(t) if self.generator.resp_phase else None
        out += baseline(t, self.persona, phase) + af_waves(t, self.generator.episodes)
        out += noise(self.rng, t, self.persona, self.fs)
        self._t = t1
        return out

    def take_beats(self, until_s: float | None = None) -> list[tuple[float, str]]:
        """Beats (R time in s from the stream start, AAMI class) up to ``until_s`` not yet taken."""
        limit = self._t if until_s is None else until_s
        done = [b for b in self._unreported if b[0] < limit]
        self._unreported = [b for b in self._unreported if b[0] >= limit]
        return done

    def take_episodes(self) -> list[Episode]:
        """Rhythm episodes (AF, VT) started since the last call."""
        assert self.generator is not None
        new = self.generator.episodes[self._episodes_reported:]
        self._episodes_reported = len(self.generator.episodes)
        return list(new)


class EcgSynth:
    """Sinus-rhythm ECG at a fixed heart rate (kept for callers that only need a clean rhythm)."""

    def __init__(self, fs: float, hr_bpm: float, rng: np.random.Generator, hrv: float = 0.03,
                 noise_mv: float = 0.02) -> None:
        base = make_persona(int(rng.integers(0, 2**31)), 0, condition="normal")
        persona = Persona(**{**base.as_dict(), "resting_hr": hr_bpm, "hrv": hrv, "noise_mv": noise_mv,
                             "p_s": 0.0, "p_v": 0.0, "p_f": 0.0, "p_q": 0.0, "ecg_gain": 1.0})  # type: ignore[arg-type]
        self._stream = EcgStream(persona, fs, rng)

    def render(self, n: int) -> np.ndarray:
        """The next ``n`` samples in mV."""
        return self._stream.render(n)
