"""The garbage collector as a latency source: freeze what start-up made, and measure every pause.

A stop-the-world collection of the oldest generation walks every tracked object; with start-up
objects (modules, models, caches) in it, one pass took tens of milliseconds at a thousand
patients, a direct hit on the p99 window latency. ``gc.freeze()`` after start-up moves them out
of every later collection. The pauses that remain are recorded so benchmarks report them.
"""

from __future__ import annotations

import gc
import threading
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class GcPauses:
    """Collector pauses observed since :meth:`install` (milliseconds, per generation)."""

    count: dict[int, int] = field(default_factory=lambda: {0: 0, 1: 0, 2: 0})
    total_ms: dict[int, float] = field(default_factory=lambda: {0: 0.0, 1: 0.0, 2: 0.0})
    max_ms: dict[int, float] = field(default_factory=lambda: {0: 0.0, 1: 0.0, 2: 0.0})
    _started: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def install(self) -> GcPauses:
        gc.callbacks.append(self._callback)
        return self

    def uninstall(self) -> None:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        # runs with the GIL held by the thread that triggered the collection: no lock needed for
        # the start/stop pair, only for readers in other threads
        if phase == "start":
            self._started = time.perf_counter()
            return
        generation = int(info["generation"])
        pause = (time.perf_counter() - self._started) * 1e3
        with self._lock:
            self.count[generation] += 1
            self.total_ms[generation] += pause
            self.max_ms[generation] = max(self.max_ms[generation], pause)

    def summary(self) -> dict[str, Any]:
        with self._lock:
            return {
                "collections": dict(self.count),
                "pause_ms_total": {g: round(v, 2) for g, v in self.total_ms.items()},
                "pause_ms_max": {g: round(v, 2) for g, v in self.max_ms.items()},
            }


def freeze_startup() -> int:
    """Collect once, then exclude everything alive now from later collections; returns how many."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
