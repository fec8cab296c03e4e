"""Heart rate from each patient's ECG, published as an inference event every few seconds."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from iomt.wire.events import Event
from iomt.wire.frames import Frame
from models.preprocessing import PREPROCESSING_VERSION
from models.preprocessing.ecg import heart_rate_bpm

MODEL = "heart_rate"


@dataclass
class _EcgBuffer:
    rate: float
    capacity: int
    data: np.ndarray
    filled: int = 0
    t_end_us: int = 0
    last_emit_us: int = 0

    def push(self, values: np.ndarray, t_last_us: int) -> None:
        n = values.size
        if n >= self.capacity:
            self.data[:] = values[-self.capacity:]
            self.filled = self.capacity
        else:
            self.data = np.roll(self.data, -n)
            self.data[-n:] = values
            self.filled = min(self.capacity, self.filled + n)
        self.t_end_us = t_last_us


class HeartRateMonitor:
    """Keeps the last ``window_s`` of ECG per device and estimates heart rate from R-peaks."""

    def __init__(self, site: str, node: str, window_s: float = 8.0, interval_s: float = 2.0) -> None:
        self.site = site
        self.node = node
        self.window_s = window_s
        self.interval_us = round(interval_s * 1e6)
        self._buffers: dict[str, _EcgBuffer] = {}

    def reset(self, device: str) -> None:
        """Forget a device's buffer (after a gap, the window would splice unrelated signal)."""
        self._buffers.pop(device, None)

    def on_frame(self, frame: Frame) -> Event | None:
        buf = self._buffers.get(frame.device)
        if buf is None or buf.rate != frame.sample_rate:
            capacity = round(self.window_s * frame.sample_rate)
            buf = _EcgBuffer(frame.sample_rate, capacity, np.zeros(capacity, dtype=np.float32))
            buf.last_emit_us = frame.t0_us
            self._buffers[frame.device] = buf
        buf.push(frame.values()[:, 0], frame.t_last_us)
        if buf.filled < buf.capacity or frame.t_last_us - buf.last_emit_us < self.interval_us:
            return None
        buf.last_emit_us = frame.t_last_us
        estimate = heart_rate_bpm(buf.data, buf.rate)
        window_start = buf.t_end_us - round((buf.capacity - 1) * 1e6 / buf.rate)
        if estimate is None:
            return Event(
                device=frame.device, model=MODEL, model_version=PREPROCESSING_VERSION, kind="quality",
                label="no_beats", score=0.0, window_start_us=window_start, window_end_us=buf.t_end_us,
                t_us=buf.t_end_us, site=self.site, node=self.node, priority="low",
            )
        bpm, intervals = estimate
        return Event(
            device=frame.device, model=MODEL, model_version=PREPROCESSING_VERSION, kind="inference",
            label="heart_rate", score=float(min(1.0, intervals / (self.window_s * 0.8))), value=round(bpm, 1),
            window_start_us=window_start, window_end_us=buf.t_end_us, t_us=buf.t_end_us,
            site=self.site, node=self.node, detail={"rr_intervals": intervals},
        )
