"""The fall model's placement table (from its data card): validated, analysed with a caveat, or not
analysed, with a reason that names the placement and the model version."""

from __future__ import annotations

import pytest

from iomt.wire.descriptor import Placement
from models.fall_placement import Support, placement_support


@pytest.mark.parametrize(("placement", "support"), [
    (Placement.WAIST, Support.VALIDATED), (Placement.LOWER_BACK, Support.VALIDATED),
    (Placement.WRIST, Support.CAVEAT), (Placement.POCKET, Support.CAVEAT), (Placement.UNKNOWN, Support.CAVEAT),
    (None, Support.CAVEAT), (Placement.CHEST, Support.UNSUPPORTED), (Placement.ANKLE, Support.UNSUPPORTED),
    (Placement.THIGH, Support.UNSUPPORTED), (Placement.FOOT, Support.UNSUPPORTED),
    (Placement.HEAD, Support.UNSUPPORTED), (Placement.UPPER_ARM, Support.UNSUPPORTED),
])
def test_every_placement_has_a_verdict(placement: Placement | None, support: Support) -> None:
    verdict = placement_support(placement, "1.1.0")
    assert verdict.support is support and verdict.analysed is (support is not Support.UNSUPPORTED)
    assert bool(verdict.note) is (support is not Support.VALIDATED)


def test_the_reason_names_the_placement_the_version_and_what_is_validated() -> None:
    note = placement_support(Placement.ANKLE, "1.1.0").note
    assert note == "placement ankle not supported by fall 1.1.0 (validated: waist, lower_back, wrist, pocket)"
    assert "fall 1.1.3" in placement_support(Placement.ANKLE, "1.1.3").note  # a patch release: same table
    assert "fall 1.1.x (no model loaded yet)" in placement_support(Placement.HEAD, None).note  # default table
