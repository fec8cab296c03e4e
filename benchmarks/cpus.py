"""CPU pinning for benchmarks: the ``index``-th core this process may use (modulo how many there are).

Benchmarks pin the measured process to one core and everything else to another; every one of them
chooses cores the same way, here.
"""

from __future__ import annotations

import os


def core(index: int) -> int | None:
    """The ``index``-th allowed core, wrapping around; ``None`` where affinity is not supported."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    cores = sorted(os.sched_getaffinity(0))
    return cores[index % len(cores)]


def pin(index: int, pid: int = 0) -> int | None:
    """Restrict process ``pid`` (0: this one) to :func:`core` ``(index)``; returns that core."""
    chosen = core(index)
    if chosen is not None:
        os.sched_setaffinity(pid, {chosen})
    return chosen
