"""Per-stream sequence accounting: gaps, duplicates and reordering, from sequence numbers alone."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

#: Missing sequence numbers remembered per stream, to tell a late arrival from a duplicate.
MAX_REMEMBERED_GAPS = 4096


class Verdict(StrEnum):
    """What an arriving sequence number says about its stream."""

    #: the next one expected (or the stream's first)
    OK = "ok"
    #: later than the next one expected: the ones in between are missing (for now)
    GAP = "gap"
    #: one that was missing arrived after all
    LATE = "late"
    #: one that arrived before
    DUPLICATE = "duplicate"


@dataclass
class StreamCounters:
    received: int = 0
    missing: int = 0
    duplicates: int = 0
    reordered: int = 0
    next_seq: int | None = None
    gaps: set[int] = field(default_factory=set)


class SequenceTracker:
    """Classifies each arriving sequence number of each stream."""

    def __init__(self) -> None:
        self.streams: dict[tuple[str, str], StreamCounters] = {}
        #: the sums over all streams, kept as they change (read every processing cycle for metrics)
        self._totals = {"received": 0, "missing": 0, "duplicates": 0, "reordered": 0}

    def observe(self, device: str, stream: str, seq: int) -> Verdict:
        """Record ``seq`` and say what it means."""
        c = self.streams.get((device, stream))
        if c is None:
            c = self.streams[(device, stream)] = StreamCounters()
        c.received += 1
        totals = self._totals
        totals["received"] += 1
        if c.next_seq is None or seq == c.next_seq:
            c.next_seq = seq + 1
            return Verdict.OK
        if seq > c.next_seq:
            skipped = seq - c.next_seq
            c.missing += skipped
            totals["missing"] += skipped
            if len(c.gaps) + skipped <= MAX_REMEMBERED_GAPS:
                c.gaps.update(range(c.next_seq, seq))
            c.next_seq = seq + 1
            return Verdict.GAP
        if seq in c.gaps:
            c.gaps.discard(seq)
            c.missing -= 1
            c.reordered += 1
            totals["missing"] -= 1
            totals["reordered"] += 1
            return Verdict.LATE
        c.duplicates += 1
        totals["duplicates"] += 1
        return Verdict.DUPLICATE

    def totals(self) -> dict[str, int]:
        """Received, missing, duplicate and reordered counts summed over every stream."""
        return dict(self._totals)
