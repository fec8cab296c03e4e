"""One patient's recent vitals readings on the edge, and the last value of each vital that the window
of a monitor measuring it now and then (a cuff every 15-60 minutes, a temperature every few hours)
carries over.

A window needs a value of every measured vital (:func:`models.preprocessing.vitals.features`). A
continuous monitor sends them all every second; a ward's cuff does not. When a vital of
:data:`CARRY_S` has no value inside a window but had one before it, recently enough, that value
stands in as a reading at the window's start: the steps carry it forward as they carry any reading,
until a new measurement arrives. The limits are the gateway's NEWS2 carry
(``gateway/vitals/news2_score.py``): a blood pressure stands for an hour, a temperature for four,
a charted consciousness level for one. Pulse, SpO2 and respiration are continuous: a window without
them is not scored.
"""

from __future__ import annotations

import numpy as np

from iomt.wire.vitals import FIELDS

#: Most readings kept per patient: five minutes at up to ~13 readings a second; beyond, the oldest go.
MAX_READINGS = 4096
#: How long a vital's last value stands in for a window without one (seconds, to the window's end).
CARRY_S: dict[str, float] = {"bp_sys": 3600.0, "bp_dia": 3600.0, "temp_c": 4 * 3600.0, "acvpu": 3600.0}
_CARRY = [(FIELDS.index(name), name, round(limit * 1e6)) for name, limit in CARRY_S.items()]


class PatientReadings:
    """Device times (µs) and rows of :data:`~iomt.wire.vitals.FIELDS`, oldest first, in arrays that grow
    by a quarter when full (a minute past the window at 1 Hz: ~380 rows, 27 KB) up to
    :data:`MAX_READINGS`; and the last value (and time) of each vital among the readings let go."""

    __slots__ = ("carried", "carried_us", "n", "rows", "times")

    def __init__(self, capacity: int = 64) -> None:
        self.times = np.zeros(capacity, np.int64)
        self.rows = np.zeros((capacity, len(FIELDS)), np.float64)
        self.n = 0
        self.carried = np.full(len(FIELDS), np.nan)
        self.carried_us = np.zeros(len(FIELDS), np.int64)

    def append(self, t_us: int, row: list[float]) -> None:
        if self.n == len(self.times):
            if self.n >= MAX_READINGS:
                self.drop_before(int(self.times[1]))
            else:
                grown = min(MAX_READINGS, self.n + max(16, self.n // 4))
                self.times = np.resize(self.times, grown)
                self.rows = np.resize(self.rows, (grown, len(FIELDS)))
        self.times[self.n] = t_us
        self.rows[self.n] = row
        self.n += 1

    def drop_before(self, t_us: int) -> None:
        """Let the readings taken before ``t_us`` go, remembering each vital's last value among them."""
        k = int(np.searchsorted(self.times[: self.n], t_us, side="left"))
        if not k:
            return
        dropped = self.rows[:k]
        valid = ~np.isnan(dropped)
        cols = np.flatnonzero(valid.any(axis=0))
        if len(cols):
            last = k - 1 - valid[::-1].argmax(axis=0)[cols]
            self.carried[cols] = dropped[last, cols]
            self.carried_us[cols] = self.times[last]
        kept = self.n - k
        self.times[:kept] = self.times[k : self.n]
        self.rows[:kept] = self.rows[k : self.n]
        self.n = kept

    def clear(self) -> None:
        """Forget everything (a device clock that stepped back: earlier times mean nothing now)."""
        self.n = 0
        self.carried[:] = np.nan

    @property
    def last_us(self) -> int | None:
        return int(self.times[self.n - 1]) if self.n else None

    def for_window(self, start_us: int, end_us: int) -> tuple[np.ndarray, np.ndarray, int, tuple[str, ...]]:
        """``(times, rows, readings inside, vitals carried)`` to cut the window ``(start_us, end_us]``
        from: the buffered readings, plus one at ``start_us + 1`` holding the carried values (if any)."""
        times, rows = self.times[: self.n], self.rows[: self.n]
        first, stop = np.searchsorted(times, [start_us, end_us], side="right")
        first, stop = int(first), int(stop)
        absent: np.ndarray = (
            np.asarray(np.isnan(rows[first:stop]).all(axis=0)) if stop > first else np.ones(len(FIELDS), bool)
        )
        stand_in = np.full(len(FIELDS), np.nan)
        carried: list[str] = []
        for col, name, limit in _CARRY:
            if not absent[col]:
                continue
            earlier = np.flatnonzero(~np.isnan(rows[:first, col]))
            if len(earlier):
                value, t_us = rows[earlier[-1], col], int(times[earlier[-1]])
            else:
                value, t_us = self.carried[col], int(self.carried_us[col])
            if not np.isnan(value) and end_us - t_us <= limit:
                stand_in[col] = value
                carried.append(name)
        if not carried:
            return times, rows, stop - first, ()
        times = np.insert(times, first, start_us + 1)
        rows = np.insert(rows, first, stand_in, axis=0)
        return times, rows, stop - first, tuple(carried)
