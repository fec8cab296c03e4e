"""Which sensor placements the released fall model was validated for, and what the edge does with each.

From the data card of fall 1.1.0 (``models/fall/DATACARD.md``, ``report/real_eval.md``):

* **waist, lower back** — validated. Falls: simulated at the waist (``firmware_sim``, random mounts,
  100 % of every kind); daily activity: real lower-back recordings (mobgap, gaitpy) in training and
  held out (mobgap, Daphnet trunk), 0 false alarms there.
* **wrist, pocket (a phone)** — analysed with a caveat. Real daily activity of exactly these
  placements was held out (kse801 watch: 0 false alarms in 2.0 h; kse801 phone, placement not stated
  by the source: 1 in 2.2 h), so false alarms are measured; but no fall was ever simulated or recorded
  there, so the *sensitivity* is not.
* **unknown** (a device that declares no placement, as every device before the descriptor) — analysed
  as before, with that caveat: refusing it would silently stop fall detection on existing devices.
* **chest, upper arm, thigh, ankle, foot, head** — not analysed. Nothing validates them (foot
  recordings only as training negatives; 110 s each of held-out ankle and thigh); a wrong alert or a
  silently missed fall is worse than saying "fall not analysed", which the station shows as a
  technical alarm until the placement changes.

Why "not analysed" rather than "analysed with a caveat" for those: the confirmation rules (posture
change of 40 deg relative to gravity, inactivity) describe the trunk; a foot or ankle turns by more
than that at every step and rests flat whatever the body does, so the same thresholds mean something
else there. A later model release that validates more placements lists them here under its version.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from iomt.wire.descriptor import Placement


class Support(StrEnum):
    """How the fall model stands with a placement."""

    VALIDATED = "validated"
    CAVEAT = "caveat"  # analysed; sensitivity not validated there
    UNSUPPORTED = "unsupported"  # not analysed


@dataclass(frozen=True, slots=True)
class PlacementVerdict:
    support: Support
    #: what a clinician should know (empty when validated)
    note: str = ""

    @property
    def analysed(self) -> bool:
        return self.support is not Support.UNSUPPORTED


_WRIST_NOTE = ("false alarms measured on real wrist recordings; fall sensitivity validated only on "
               "simulated waist falls")
_POCKET_NOTE = ("false alarms measured on a real phone carried all day; fall sensitivity validated only on "
                "simulated waist falls")
_UNKNOWN_NOTE = "placement not declared by the device; the model is validated at the waist and lower back"

#: Placements per released major.minor of the fall model (``1.1``: the data card above).
VALIDATION: Mapping[str, Mapping[Placement, PlacementVerdict]] = {
    "1.1": {
        Placement.WAIST: PlacementVerdict(Support.VALIDATED),
        Placement.LOWER_BACK: PlacementVerdict(Support.VALIDATED),
        Placement.WRIST: PlacementVerdict(Support.CAVEAT, _WRIST_NOTE),
        Placement.POCKET: PlacementVerdict(Support.CAVEAT, _POCKET_NOTE),
        Placement.UNKNOWN: PlacementVerdict(Support.CAVEAT, _UNKNOWN_NOTE),
    },
}
#: The table used for a version not listed (a node with no model loaded yet, a future patch release).
DEFAULT_RELEASE = "1.1"


@lru_cache(maxsize=256)  # asked per frame at the edge: a handful of (placement, version) pairs exist
def placement_support(placement: Placement | None, model_version: str | None) -> PlacementVerdict:
    """The verdict for ``placement`` (``None``: not declared, as ``unknown``) under ``model_version``."""
    release = ".".join((model_version or "").split(".")[:2])
    table = VALIDATION.get(release, VALIDATION[DEFAULT_RELEASE])
    where = placement or Placement.UNKNOWN
    verdict = table.get(where)
    if verdict is not None:
        return verdict
    valid = ", ".join(p.value for p, v in table.items() if v.analysed and p is not Placement.UNKNOWN)
    what = model_version or f"{DEFAULT_RELEASE}.x (no model loaded yet)"
    return PlacementVerdict(Support.UNSUPPORTED, f"placement {where.value} not supported by fall {what} "
                                                 f"(validated: {valid})")
