"""Brokers keep what they acknowledged: devices publish QoS 1 while mosquitto is SIGKILLed and
restarted on the same port and the edge is still on its way back (held for 3 s, so the devices
return first); nothing is lost end to end, counted by sequence numbers in the store. Without
persistence the same run loses every frame sent while the edge was away (``iomt bench
broker-restart`` measures both)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.broker_restart import restart_case

pytestmark = pytest.mark.slow


async def test_a_broker_crash_while_the_edge_resubscribes_loses_nothing(tmp_path: Path) -> None:
    result = await restart_case(True, tmp_path, devices=5, frames_per_s=10.0, before_s=3.0, away_s=3.0, after_s=3.0)
    assert result["all_acknowledged_by_broker"]
    assert result["frames_before_kill"] > 0 and result["published"] > result["frames_before_kill"]
    assert result["lost"] == 0, result["lost_sequences"]
    assert result["stored"] == result["published"]
