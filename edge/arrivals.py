"""When did the data a window needs reach this node? (for honest window-to-event latency)."""

from __future__ import annotations

from collections import deque


class ArrivalLog:
    """Recent frames of one stream: device time of their last sample and monotonic arrival time."""

    __slots__ = ("_frames",)

    def __init__(self, keep: int = 64) -> None:
        self._frames: deque[tuple[int, int]] = deque(maxlen=keep)

    def add(self, t_last_us: int, arrival_ns: int) -> None:
        self._frames.append((t_last_us, arrival_ns))

    def arrival_of(self, t_us: int) -> int:
        """Arrival of the first frame that contained the sample at device time ``t_us``."""
        for t_last, arrival in self._frames:
            if t_last >= t_us:
                return arrival
        return self._frames[-1][1] if self._frames else 0
