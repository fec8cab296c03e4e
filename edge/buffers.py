"""Per-stream ring buffers: the last few seconds of each device stream, with sample timing."""

from __future__ import annotations

import numpy as np


class RingBuffer:
    """Fixed-capacity buffer of ``(n, channels)`` float32 samples; ``total`` counts every sample ever added."""

    __slots__ = ("_data", "_pos", "capacity", "channels", "filled", "rate_hz", "t_last_us", "total")

    def __init__(self, capacity: int, channels: int, rate_hz: float) -> None:
        self.capacity = capacity
        self.channels = channels
        self.rate_hz = rate_hz
        self._data = np.zeros((capacity, channels), dtype=np.float32)
        self._pos = 0
        self.filled = 0
        self.total = 0
        self.t_last_us = 0

    def extend(self, values: np.ndarray, t_last_us: int) -> None:
        """Append ``values`` (``(n, channels)``) whose last sample was taken at ``t_last_us``."""
        n = values.shape[0]
        if n >= self.capacity:
            self._data[:] = values[-self.capacity :]
            self._pos = 0
        else:
            end = self._pos + n
            if end <= self.capacity:
                self._data[self._pos : end] = values
            else:
                first = self.capacity - self._pos
                self._data[self._pos :] = values[:first]
                self._data[: n - first] = values[first:]
            self._pos = end % self.capacity
        self.filled = min(self.capacity, self.filled + n)
        self.total += n
        self.t_last_us = t_last_us

    def latest(self, n: int, skip: int = 0) -> np.ndarray:
        """A copy of ``n`` samples ending ``skip`` samples before the newest (fewer if fewer are held),
        oldest first."""
        skip = min(skip, self.filled)
        n = min(n, self.filled - skip)
        start = (self._pos - skip - n) % self.capacity
        if start + n <= self.capacity:
            return self._data[start : start + n].copy()
        return np.concatenate([self._data[start:], self._data[: (start + n) - self.capacity]])

    def time_of(self, index_from_end: int) -> int:
        """Device time (µs) of the sample ``index_from_end`` positions before the newest (0 = newest)."""
        return self.t_last_us - round(index_from_end * 1e6 / self.rate_hz)

    def clear(self) -> None:
        self.filled = 0
        self._pos = 0
