"""Stream accounting by device session (boot id, wire v2), for every store backend.

A stream's stored records are counted per session: a restarted device numbers from 0 again, and
those records are new data, not duplicates, and not a negative count of missing ones. Within a
session, the *span* is the run of sequence numbers the records cover; one more than :data:`MAX_JUMP`
outside it (a forged or corrupt number, like 4e9) is a *jump*: stored and counted, but it does not
stretch the span, so it never shows as billions of missing records.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from gateway.store.records import StreamStats

#: Farther than this outside a session's span is a jump (the edge uses the same bound).
MAX_JUMP = 65_536


@dataclass
class Session:
    """One session's counters: records stored, the span they cover, those outside it."""

    records: int = 0
    first_seq: int = 0
    last_seq: int = -1
    jumps: int = 0
    #: a monotonic stamp of the latest write to it (which session is the live one)
    updated: int = 0

    def add(self, seqs: Iterable[int], stamp: int = 0) -> None:
        """Count newly stored sequence numbers (each stored once)."""
        new = sorted(seqs)
        if not new:
            return
        self.records += len(new)
        self.updated = max(self.updated, stamp)
        if self.last_seq < self.first_seq:  # empty: anchor on the median, which one forged number cannot move
            anchor = new[len(new) // 2]
            self.first_seq = self.last_seq = anchor
        for seq in _inside_first(new, self.first_seq, self.last_seq):
            if self.first_seq - MAX_JUMP <= seq <= self.last_seq + MAX_JUMP:
                self.first_seq = min(self.first_seq, seq)
                self.last_seq = max(self.last_seq, seq)
            else:
                self.jumps += 1

    @property
    def missing(self) -> int:
        if self.last_seq < self.first_seq:
            return 0
        return (self.last_seq - self.first_seq + 1) - (self.records - self.jumps)


def _inside_first(seqs: list[int], lo: int, hi: int) -> list[int]:
    """Numbers nearest the span first, so a run growing out of it is taken whole, and far ones last."""
    return sorted(seqs, key=lambda s: 0 if lo <= s <= hi else (lo - s if s < lo else s - hi))


def stream_stats(device: str, stream: str, sessions: dict[int, Session], duplicates: int) -> StreamStats:
    """One stream's :class:`StreamStats` from its sessions (``first_seq``/``last_seq``: the live one's)."""
    live = max(sessions.values(), key=lambda s: s.updated)
    return StreamStats(
        device, stream,
        frames=sum(s.records for s in sessions.values()),
        first_seq=live.first_seq,
        last_seq=live.last_seq,
        duplicates=duplicates,
        sessions=len(sessions),
        jumps=sum(s.jumps for s in sessions.values()),
        missing_count=sum(s.missing for s in sessions.values()),
    )
