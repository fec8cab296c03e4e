"""Benchmarks choose cores one way: the index-th allowed core, wrapping around."""

from __future__ import annotations

import os

from benchmarks import cpus


def test_core_indices_wrap_around_the_allowed_cores() -> None:
    allowed = sorted(os.sched_getaffinity(0))
    assert [cpus.core(i) for i in range(len(allowed))] == allowed
    assert cpus.core(len(allowed) + 1) == cpus.core(1)
