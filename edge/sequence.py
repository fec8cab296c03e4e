"""Per-stream sequence accounting: gaps, duplicates, reordering, device restarts and implausible
jumps, from sequence numbers, boot ids (wire v2) and device time.

A stream is numbered within a *session* of its device: one boot. A new boot id starts a new
session (a restart: its sequence starting again at 0 is new data, not a run of duplicates). A v1
device sends no boot id; its restart still shows: the sequence goes back while the device's clock
goes forward (a redelivery repeats an old timestamp).

A sequence number more than :data:`MAX_JUMP` away from the next one expected is neither a gap of
billions nor a reason to stop listening: it is a *jump* (a forged frame, a corrupt counter) that is
forwarded (the store keeps it) and counted, but does not move the stream, so the honest frames that
follow are analysed as before. Should the stream really go on from there (:data:`JUMP_CONFIRM`
consecutive numbers after the jump), that is a restart. Likewise a session that a (forged) new boot
id displaced takes the stream back once it goes on in order for as many messages: one message with
a made-up boot id or sequence number cannot silence a patient.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from enum import StrEnum

#: Missing sequence numbers remembered per stream, to tell a late arrival from a duplicate.
MAX_REMEMBERED_GAPS = 4096
#: Farther than this from the next expected number (either way) is a jump, not a gap or a redelivery:
#: a device at 50 frames/s takes ~20 minutes to lose this many frames.
MAX_JUMP = 65_536
#: Consecutive numbers after a jump that make it a restart of the stream.
JUMP_CONFIRM = 3
#: Earlier sessions remembered per stream (their late messages are told from a new restart).
MAX_OLD_SESSIONS = 4


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
    #: the first of a new session of the device (a new boot id, or its sequence went back while its
    #: clock went forward, or it went on from a jump): data, starting a fresh stream
    RESTART = "restart"
    #: a message of an earlier session of the device, arriving after a restart
    STALE = "stale"
    #: implausibly far from the next one expected: kept and counted, but the stream does not follow it
    JUMP = "jump"

    @property
    def in_order(self) -> bool:
        """Whether the message continues its stream (windows are cut from in-order signal only)."""
        return self in _IN_ORDER


_IN_ORDER = frozenset({Verdict.OK, Verdict.GAP, Verdict.RESTART})


@dataclass
class StreamCounters:
    received: int = 0
    missing: int = 0
    duplicates: int = 0
    reordered: int = 0
    restarts: int = 0
    jumps: int = 0
    next_seq: int | None = None
    gaps: set[int] = field(default_factory=set)
    boot: int = 0
    #: device time of the latest in-order message (None: the caller gives no times)
    last_t_us: int | None = None
    #: where a run of jumped numbers would go on, and how long it is
    jump_next: int | None = None
    jump_run: int = 0
    #: earlier sessions by boot id, oldest first
    old: OrderedDict[int, OldSession] = field(default_factory=OrderedDict)


@dataclass
class OldSession:
    next_seq: int
    gaps: set[int]
    #: consecutive in-order messages since it was displaced
    run: int = 0


TOTALS = ("received", "missing", "duplicates", "reordered", "restarts", "jumps")


class SequenceTracker:
    """Classifies each arriving sequence number of each stream."""

    def __init__(self) -> None:
        self.streams: dict[tuple[str, str], StreamCounters] = {}
        #: the sums over all streams, kept as they change (read every processing cycle for metrics)
        self._totals = dict.fromkeys(TOTALS, 0)

    def observe(self, device: str, stream: str, seq: int, boot: int = 0, t_us: int | None = None) -> Verdict:
        """Record ``seq`` of session ``boot`` (device time ``t_us``, when known) and say what it means."""
        c = self.streams.get((device, stream))
        if c is None:
            c = self.streams[(device, stream)] = StreamCounters(boot=boot)
        c.received += 1
        self._totals["received"] += 1
        if c.next_seq is None:
            return self._follow(c, seq, t_us, Verdict.OK)
        if boot != c.boot:
            if boot in c.old:
                return self._stale(c, boot, seq, t_us)
            return self._restart(c, seq, boot, t_us)
        if seq == c.next_seq:
            c.jump_next, c.jump_run = None, 0
            return self._follow(c, seq, t_us, Verdict.OK)
        if c.next_seq < seq <= c.next_seq + MAX_JUMP:
            c.jump_next, c.jump_run = None, 0
            skipped = seq - c.next_seq
            c.missing += skipped
            self._totals["missing"] += skipped
            if len(c.gaps) + skipped <= MAX_REMEMBERED_GAPS:
                c.gaps.update(range(c.next_seq, seq))
            return self._follow(c, seq, t_us, Verdict.GAP)
        if seq in c.gaps:
            c.gaps.discard(seq)
            c.missing -= 1
            c.reordered += 1
            self._totals["missing"] -= 1
            self._totals["reordered"] += 1
            return Verdict.LATE
        if seq < c.next_seq and t_us is not None and c.last_t_us is not None and t_us > c.last_t_us:
            # back in numbers, forward in time: a device (v1, or one that kept its boot id) started again
            return self._restart(c, seq, boot, t_us)
        if c.next_seq - MAX_JUMP <= seq < c.next_seq:
            c.duplicates += 1
            self._totals["duplicates"] += 1
            return Verdict.DUPLICATE
        return self._jump(c, seq, boot, t_us)

    def _follow(self, c: StreamCounters, seq: int, t_us: int | None, verdict: Verdict) -> Verdict:
        c.next_seq = seq + 1
        if t_us is not None and (c.last_t_us is None or t_us > c.last_t_us):
            c.last_t_us = t_us
        return verdict

    def _restart(self, c: StreamCounters, seq: int, boot: int, t_us: int | None) -> Verdict:
        if c.next_seq is not None and boot != c.boot:
            c.old.pop(boot, None)
            c.old[c.boot] = OldSession(c.next_seq, c.gaps)
            while len(c.old) > MAX_OLD_SESSIONS:
                c.old.popitem(last=False)
        c.boot = boot
        c.gaps = set()  # the old session's missing numbers stay counted as missing
        c.jump_next, c.jump_run = None, 0
        c.last_t_us = None
        c.restarts += 1
        self._totals["restarts"] += 1
        return self._follow(c, seq, t_us, Verdict.RESTART)

    def _stale(self, c: StreamCounters, boot: int, seq: int, t_us: int | None) -> Verdict:
        old = c.old[boot]
        if seq == old.next_seq:
            old.next_seq += 1
            old.run += 1
            if old.run >= JUMP_CONFIRM:  # the displaced session goes on: it is the live one after all
                return self._restart(c, seq, boot, t_us)
            return Verdict.STALE
        old.run = 0
        if seq in old.gaps:
            old.gaps.discard(seq)
            c.missing -= 1
            c.reordered += 1
            self._totals["missing"] -= 1
            self._totals["reordered"] += 1
        elif seq < old.next_seq:
            c.duplicates += 1
            self._totals["duplicates"] += 1
        return Verdict.STALE

    def _jump(self, c: StreamCounters, seq: int, boot: int, t_us: int | None) -> Verdict:
        c.jumps += 1
        self._totals["jumps"] += 1
        c.jump_run = c.jump_run + 1 if seq == c.jump_next else 1
        c.jump_next = seq + 1
        if c.jump_run >= JUMP_CONFIRM:  # the stream really goes on from there
            return self._restart(c, seq, boot, t_us)
        return Verdict.JUMP

    def totals(self) -> dict[str, int]:
        """Received, missing, duplicate, reordered, restart and jump counts summed over every stream."""
        return dict(self._totals)
