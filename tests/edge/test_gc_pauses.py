"""Collector pauses are counted per generation, and start-up objects can be frozen out."""

from __future__ import annotations

import gc

from edge.gc_pauses import GcPauses, freeze_startup


def test_every_collection_is_counted_with_its_pause() -> None:
    pauses = GcPauses().install()
    try:
        gc.collect(0)
        gc.collect(2)
    finally:
        pauses.uninstall()
    summary = pauses.summary()
    assert summary["collections"][0] >= 1 and summary["collections"][2] >= 1
    assert 0.0 <= summary["pause_ms_max"][2] <= summary["pause_ms_total"][2]  # both rounded to 0.01 ms
    gc.collect(2)  # after uninstall: no longer counted
    assert pauses.summary()["collections"] == summary["collections"]


def test_freezing_moves_live_objects_out_of_the_collected_generations() -> None:
    try:
        keep = [[i] for i in range(1000)]
        frozen = freeze_startup()
        assert frozen >= len(keep) and gc.get_freeze_count() == frozen
        assert not any(item is keep for item in gc.get_objects(generation=2))
    finally:
        gc.unfreeze()
