"""Login throttling: a lockout per user name after repeated failures, and a rate per client address.

Pure logic over a clock (tested with a fake one); one instance per gateway process, in memory — a
restart clears it, which only an administrator of the host can cause.

* A name that failed ``max_failures`` times in a row is locked for ``lockout_s``; each further lockout
  of that name (a failure right after one ended) doubles it, up to :data:`MAX_LOCKOUT_S`. A success
  clears the name. Unknown names are counted too, so a lockout says nothing about which names exist.
* An address may try ``per_minute`` logins in any sliding minute, whatever the names.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

MAX_LOCKOUT_S = 900.0
#: Names and addresses remembered at most (the oldest are forgotten first), so a flood of made-up
#: names cannot grow memory without bound.
MAX_TRACKED = 10_000


@dataclass
class _Name:
    failures: int = 0
    locked_until: float = 0.0
    lockouts: int = 0


class LoginLimiter:
    def __init__(self, max_failures: int = 5, lockout_s: float = 60.0, per_minute: int = 20,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures = max_failures
        self.lockout_s = lockout_s
        self.per_minute = per_minute
        self._clock = clock
        self._names: OrderedDict[str, _Name] = OrderedDict()
        self._addresses: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, name: str, address: str) -> float:
        """Seconds until ``address`` may try ``name`` (0: now). Counts this attempt against the address."""
        now = self._clock()
        attempts = self._addresses.setdefault(address, deque())
        self._addresses.move_to_end(address)
        while attempts and attempts[0] <= now - 60.0:
            attempts.popleft()
        wait = 0.0
        if len(attempts) >= self.per_minute:
            wait = attempts[0] + 60.0 - now
        else:
            attempts.append(now)
        state = self._names.get(name)
        if state is not None and state.locked_until > now:
            wait = max(wait, state.locked_until - now)
        self._trim()
        return wait

    def failed(self, name: str) -> bool:
        """Record a failure; whether it locked the name."""
        now = self._clock()
        state = self._names.setdefault(name, _Name())
        self._names.move_to_end(name)
        state.failures += 1
        self._trim()
        if state.failures < self.max_failures:
            return False
        state.lockouts += 1
        state.failures = 0
        state.locked_until = now + min(MAX_LOCKOUT_S, self.lockout_s * 2 ** min(state.lockouts - 1, 32))
        return True

    def succeeded(self, name: str) -> None:
        self._names.pop(name, None)

    def _trim(self) -> None:
        for table in (self._names, self._addresses):
            while len(table) > MAX_TRACKED:
                table.popitem(last=False)
