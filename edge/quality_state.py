"""Signal-quality events on change only: one event when a stream goes bad, one when it recovers."""

from __future__ import annotations

from iomt.wire.events import Event, EventKind, Priority
from models.preprocessing import PREPROCESSING_VERSION


class QualityTracker:
    def __init__(self, site: str, node: str) -> None:
        self.site = site
        self.node = node
        self._state: dict[tuple[str, str], str | None] = {}
        self.problems = 0

    def update(self, device: str, stream: str, problem: str | None, window: tuple[int, int]) -> Event | None:
        """Record the latest verdict; return an event when it differs from the previous one."""
        key = (device, stream)
        previous = self._state.get(key)
        self._state[key] = problem
        if problem == previous:
            return None
        if problem is not None:
            self.problems += 1
        return Event(
            device=device, model="signal_quality", model_version=PREPROCESSING_VERSION, kind=EventKind.QUALITY,
            label=problem or "signal_ok", score=1.0 if problem else 0.0, window_start_us=window[0],
            window_end_us=window[1], t_us=window[1], site=self.site, node=self.node,
            priority=Priority.MEDIUM if problem else Priority.INFO, detail={"stream": stream},
        )

    def bad(self, device: str, stream: str) -> bool:
        return self._state.get((device, stream)) is not None
