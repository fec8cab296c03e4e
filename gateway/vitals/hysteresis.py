"""Anti-flapping: an alarm level changes only when the measurements agree for long enough.

Every alarm the gateway raises (NEWS2 band, a limit breach, a technical condition) is a *level* per
patient and alarm key: 0 is normal, 1, 2, ... more urgent. Each new measurement of it gives two levels:

* ``enter``, the level the measurement is in by the alarm's thresholds;
* ``hold``, the level it is in by the thresholds moved back by the alarm's *deadband* (e.g. a high-HR
  limit of 120 bpm with a 3 bpm deadband holds down to 117), so a value wandering on the limit does not
  leave and re-enter it.

The confirmed level goes **up** to L when the last ``enter_count`` measurements all *enter* L or more,
and **down** to L' when the last ``leave_count`` measurements all *hold* at L' or less. At 1 reading per
second, the defaults (3 and 5) raise an alarm after 3 s of agreement and resolve it after 5 s back inside
the deadband; a single noisy reading does neither. Counting readings rather than seconds keeps the rule
sensible for a monitor that sends a blood pressure every 15 minutes as well as for one that sends 1 Hz.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Debounce:
    """How many agreeing measurements move a level up (``enter_count``) or down (``leave_count``)."""

    enter_count: int = 3
    leave_count: int = 5

    def __post_init__(self) -> None:
        if self.enter_count < 1 or self.leave_count < 1:
            raise ValueError("enter_count and leave_count must be at least 1")


#: For conditions an edge already reports on change (a quality event), or the gateway measures itself once.
IMMEDIATE = Debounce(1, 1)


@dataclass(slots=True)
class LevelTracker:
    """The confirmed level of one alarm, and the recent measurements (enter, hold) that move it."""

    debounce: Debounce
    level: int = 0
    recent: deque[tuple[int, int]] = field(default_factory=deque)

    def update(self, enter: int, hold: int | None = None) -> int:
        """Add a measurement; returns the confirmed level after it."""
        hold = enter if hold is None else max(enter, hold)
        self.recent.append((enter, hold))
        while len(self.recent) > max(self.debounce.enter_count, self.debounce.leave_count):
            self.recent.popleft()
        ups = list(self.recent)[-self.debounce.enter_count:]
        if len(ups) == self.debounce.enter_count:
            candidate = min(e for e, _h in ups)
            if candidate > self.level:
                self.level = candidate
                return self.level
        downs = list(self.recent)[-self.debounce.leave_count:]
        if len(downs) == self.debounce.leave_count:
            candidate = max(h for _e, h in downs)
            if candidate < self.level:
                self.level = candidate
        return self.level
