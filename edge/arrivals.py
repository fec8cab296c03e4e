"""When did the data a window needs reach this node? (for honest window-to-event latency)."""

from __future__ import annotations

from bisect import bisect_left
from collections import deque


class ArrivalLog:
    """Recent frames of one stream: device time of their last sample and monotonic arrival time.

    Frames normally arrive in device-time order, so a lookup is a binary search; while a device
    clock that stepped back is among the kept frames, a scan gives the answer instead (the search
    gives the same answer as the scan on ordered times).
    """

    __slots__ = ("_arrivals", "_since_step_back", "_times")

    def __init__(self, keep: int = 64) -> None:
        self._times: deque[int] = deque(maxlen=keep)
        self._arrivals: deque[int] = deque(maxlen=keep)
        #: frames added after the newest one whose time is below its predecessor's
        self._since_step_back = keep

    def add(self, t_last_us: int, arrival_ns: int) -> None:
        times = self._times
        if times and t_last_us < times[-1]:
            self._since_step_back = 0
        else:
            self._since_step_back += 1
        times.append(t_last_us)
        self._arrivals.append(arrival_ns)

    def arrival_of(self, t_us: int) -> int:
        """Arrival of the first frame that contained the sample at device time ``t_us``."""
        times = self._times
        if not times:
            return 0
        if self._since_step_back >= len(times) - 1:  # the step back (if any) left the kept frames
            i = bisect_left(times, t_us)
            return self._arrivals[i] if i < len(times) else self._arrivals[-1]
        for t_last, arrival in zip(times, self._arrivals, strict=True):
            if t_last >= t_us:
                return arrival
        return self._arrivals[-1]
