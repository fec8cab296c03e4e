"""Point 6 of issue 12: every decoder of outside input, fed 10,000 hypothesis inputs, raises only
its documented error (and the edge and the dead-letter listener raise nothing, logging no fault of
their own either: the suite fails on a logged exception). The inputs and targets are those of
``iomt bench fuzz`` (:mod:`benchmarks.fuzz`), which counts instead of failing."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from benchmarks.fuzz import targets

#: Inputs per decoder (issue 12: at least 10,000). The edge runs its real pipelines and models on
#: every input, ten times the cost of a decoder alone: it gets fewer, and the bench runs it in full.
EXAMPLES = {"frames": 10_000, "json": 10_000, "uplink": 10_000, "chunks": 10_000, "mqtt": 10_000,
            "deadletter": 10_000, "edge": 2_000}

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_only_documented_errors(name: str, caplog: pytest.LogCaptureFixture) -> None:
    # rejections are logged at WARNING by design: ten thousand of them only slow the run down; a fault
    # logged with its exception (ERROR) still fails the test (tests/conftest.py)
    for logger in ("gateway", "edge", "iomt"):
        caplog.set_level(logging.ERROR, logger=logger)
    target = targets()[name]
    fed = [0]
    with target.runner() as feed:

        @settings(max_examples=EXAMPLES[name], deadline=None, database=None, phases=(Phase.generate,),
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
        @given(target.strategy())
        def run(data: Any) -> None:
            fed[0] += 1
            with contextlib.suppress(*target.allowed):
                feed(data)

        run()
    assert fed[0] >= EXAMPLES[name]
