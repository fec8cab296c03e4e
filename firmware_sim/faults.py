"""Faults on demand: what goes wrong with real wearables, injected per device and time window.

Signal faults change the samples a device measures (lead-off, flat line, motion artifact,
saturation). Link faults change what reaches the broker and when (loss, duplication, reordering,
disconnect/reconnect), or how the device stamps time (clock drift, jitter). Battery drain reports a
falling battery on the ``status`` stream and silences the device at 0 %. Every fault is also
published as ground truth (kind ``device``) when it starts.
"""

from __future__ import annotations

import fnmatch
from typing import Annotated, Literal

import numpy as np
from pydantic import Field

from iomt.config import StrictModel


class _Fault(StrictModel):
    devices: list[str] = Field(["*"], description="Device ids (shell patterns allowed) the fault applies to.")
    streams: list[str] = Field(["*"], description="Streams it applies to (signal faults), patterns allowed.")
    start_s: float = Field(0.0, ge=0, description="When it starts, seconds from the start of the run.")
    end_s: float | None = Field(None, description="When it ends (default: never).")

    def matches(self, device: str, stream: str = "*") -> bool:
        return any(fnmatch.fnmatchcase(device, p) for p in self.devices) and (
            stream == "*" or any(fnmatch.fnmatchcase(stream, p) for p in self.streams))

    def active(self, t: float) -> bool:
        return t >= self.start_s and (self.end_s is None or t < self.end_s)


class LeadOff(_Fault):
    type: Literal["lead_off"]


class FlatLine(_Fault):
    type: Literal["flat_line"]


class MotionArtifact(_Fault):
    type: Literal["motion_artifact"]
    amplitude: float = Field(1.5, gt=0, description="Artifact amplitude in the stream's unit (mV for ECG).")


class Saturation(_Fault):
    type: Literal["saturation"]
    limit: float = Field(..., gt=0, description="The front end clips at +/- this value (stream unit).")


class Loss(_Fault):
    type: Literal["loss"]
    probability: float = Field(..., ge=0, le=1, description="Chance each message is lost.")


class Duplication(_Fault):
    type: Literal["duplication"]
    probability: float = Field(..., ge=0, le=1, description="Chance each message is sent twice.")


class Reordering(_Fault):
    type: Literal["reordering"]
    probability: float = Field(..., ge=0, le=1, description="Chance a message is held back behind the next one.")


class Disconnect(_Fault):
    type: Literal["disconnect"]
    buffer: bool = Field(True, description="Store frames while disconnected and send them on reconnect.")


class ClockDrift(_Fault):
    type: Literal["clock_drift"]
    ppm: float = Field(..., ge=-100_000, le=100_000, description="Device clock rate error, parts per million.")


class ClockJitter(_Fault):
    type: Literal["clock_jitter"]
    ms: float = Field(..., ge=0, le=10_000, description="Standard deviation of timestamp jitter, milliseconds.")


class BatteryDrain(_Fault):
    type: Literal["battery_drain"]
    minutes_to_empty: float = Field(..., gt=0, description="From 100 % at start_s to 0 % (then the device stops).")


Fault = Annotated[
    LeadOff | FlatLine | MotionArtifact | Saturation | Loss | Duplication | Reordering | Disconnect
    | ClockDrift | ClockJitter | BatteryDrain,
    Field(discriminator="type"),
]
SIGNAL_FAULTS = (LeadOff, FlatLine, MotionArtifact, Saturation)


def apply_signal_faults(faults: list[_Fault], device: str, stream: str, t: np.ndarray, samples: np.ndarray,
                        rng: np.random.Generator) -> np.ndarray:
    """Samples (physical units, ``(n,)`` or ``(n, c)``) as a faulty front end would deliver them;
    ``t`` are the samples' times in seconds from the start of the run."""
    out = samples
    for f in faults:
        if not isinstance(f, SIGNAL_FAULTS) or not f.matches(device, stream):
            continue
        on = (t >= f.start_s) & (t < (f.end_s if f.end_s is not None else np.inf))
        if not on.any():
            continue
        out = np.array(out, dtype=np.float64, copy=True)
        mask = on if out.ndim == 1 else on[:, None]
        if isinstance(f, LeadOff):  # input floats to the rail, with mains hum on top
            rail = 30.0 if stream == "ecg" else float(np.abs(out).max() + 1)
            out = np.where(mask, rail + 0.2 * np.sin(2 * np.pi * 50 * t).reshape(-1, *([1] * (out.ndim - 1))), out)
        elif isinstance(f, FlatLine):
            out = np.where(mask, 0.0, out)
        elif isinstance(f, MotionArtifact):
            art = f.amplitude * (np.sin(2 * np.pi * 1.3 * t) + 0.5 * rng.standard_normal(len(t)))
            out = out + np.where(mask, art.reshape(-1, *([1] * (out.ndim - 1))), 0.0)
        elif isinstance(f, Saturation):
            out = np.where(mask, np.clip(out, -f.limit, f.limit), out)
    return out


def clock_offset_us(faults: list[_Fault], device: str, t: float, rng: np.random.Generator) -> int:
    """How far the device's timestamp is off at true time ``t`` (s from the start of the run)."""
    off = 0.0
    for f in faults:
        if isinstance(f, ClockDrift) and f.matches(device) and t >= f.start_s:
            off += f.ppm * 1e-6 * (min(t, f.end_s if f.end_s is not None else t) - f.start_s) * 1e6
        elif isinstance(f, ClockJitter) and f.matches(device) and f.active(t):
            off += float(rng.normal(0.0, f.ms * 1e3))
    return round(off)


def battery_pct(faults: list[_Fault], device: str, t: float) -> float | None:
    """Battery level at ``t`` under a drain fault, or ``None`` when no drain applies."""
    level: float | None = None
    for f in faults:
        if isinstance(f, BatteryDrain) and f.matches(device):
            pct = 100.0 - 100.0 * max(0.0, t - f.start_s) / (f.minutes_to_empty * 60.0)
            level = max(0.0, pct) if level is None else min(level, max(0.0, pct))
    return level


class LinkShaper:
    """Applies loss, duplication, reordering and disconnects to one device's outgoing messages."""

    def __init__(self, faults: list[_Fault], device: str, rng: np.random.Generator) -> None:
        self.faults = [f for f in faults if isinstance(f, Loss | Duplication | Reordering | Disconnect)
                       and f.matches(device)]
        self.rng = rng
        self._held: dict[str, list[tuple[str, bytes]]] = {}  # reordering: waits behind the next on its topic
        self._offline: list[tuple[str, bytes]] = []  # disconnect with buffering
        self.lost = 0
        self.duplicated = 0
        self.reordered = 0

    def shape(self, t: float, messages: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
        """Messages (topic, payload) produced at time ``t`` -> what goes out now, in order."""
        if not self.faults:
            return messages
        out: list[tuple[str, bytes]] = []
        down = [f for f in self.faults if isinstance(f, Disconnect) and f.active(t)]
        if down:
            if any(f.buffer for f in down):
                self._offline.extend(messages)
            else:
                self.lost += len(messages)
            return []
        if self._offline:
            out.extend(self._offline)
            self._offline = []
        for msg in messages:
            if any(isinstance(f, Loss) and f.active(t) and self.rng.random() < f.probability for f in self.faults):
                self.lost += 1
                continue
            copies = 1
            if any(isinstance(f, Duplication) and f.active(t) and self.rng.random() < f.probability
                   for f in self.faults):
                copies = 2
                self.duplicated += 1
            held = self._held.pop(msg[0], None)
            if held is None and any(isinstance(f, Reordering) and f.active(t) and self.rng.random() < f.probability
                                    for f in self.faults):
                self._held[msg[0]] = [msg] * copies
                self.reordered += 1
                continue
            out.extend([msg] * copies)
            if held:
                out.extend(held)
        return out

    def flush(self) -> list[tuple[str, bytes]]:
        """What is still held back at the end of the run."""
        out = self._offline + [m for held in self._held.values() for m in held]
        self._offline, self._held = [], {}
        return out
