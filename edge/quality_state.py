"""Signal-quality events on change only: one event when a stream goes bad, one when it recovers."""

from __future__ import annotations

from edge.dsp.quality import SignalProblem
from edge.events import EventFactory
from iomt.wire.events import Event


class QualityTracker:
    """The latest quality verdict of every ``(device, stream)`` of the node ``site``/``node``."""

    def __init__(self, site: str, node: str) -> None:
        self.events = EventFactory(site, node)
        self._state: dict[tuple[str, str], SignalProblem | None] = {}

    def update(
        self, device: str, stream: str, problem: SignalProblem | None, window: tuple[int, int]
    ) -> Event | None:
        """Record the latest verdict; return an event when it differs from the previous one."""
        key = (device, stream)
        previous = self._state.get(key)
        self._state[key] = problem
        if problem == previous:
            return None
        return self.events.quality(device, stream, problem, window)
