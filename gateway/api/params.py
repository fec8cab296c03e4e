"""Query-parameter parsing: every bad value becomes a 400 with a message naming the parameter."""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from datetime import datetime
from enum import StrEnum
from typing import TypeVar

from iomt.wire.topics import is_identifier

E = TypeVar("E", bound=StrEnum)


class BadRequest(ValueError):
    """A request parameter is wrong; ``param`` names it. Answered as 400."""

    def __init__(self, param: str, reason: str) -> None:
        super().__init__(f"{param}: {reason}")
        self.param = param
        self.reason = reason


def time_us(query: Mapping[str, str], name: str, default: int | None) -> int | None:
    """Epoch seconds (``1700000000.5``) or ISO 8601 with a zone (``2024-01-01T00:00:00Z``) -> µs."""
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        seconds = float(raw)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "+"))
        except ValueError:
            raise BadRequest(name, f"{raw!r} is neither epoch seconds nor an ISO 8601 time") from None
        if parsed.tzinfo is None:
            raise BadRequest(name, f"{raw!r} has no time zone; add Z or +HH:MM") from None
        seconds = parsed.timestamp()
    if not math.isfinite(seconds) or not 0 <= seconds < 4_102_444_800:
        raise BadRequest(name, f"{raw!r} is outside 1970..2100")
    return round(seconds * 1e6)


def integer(query: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(name, f"{raw!r} is not an integer") from None
    if not low <= value <= high:
        raise BadRequest(name, f"must be {low}..{high}, got {value}")
    return value


def choice(query: Mapping[str, str], name: str, choices: Collection[str]) -> str | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    if raw not in choices:
        raise BadRequest(name, f"{raw!r} is not one of {', '.join(sorted(choices))}")
    return raw


def member(query: Mapping[str, str], name: str, enum: type[E]) -> E | None:
    """A member of ``enum`` by its value, or ``None`` when the parameter is absent."""
    raw = choice(query, name, tuple(enum))
    return None if raw is None else enum(raw)


def identifier(value: str | None, name: str) -> str | None:
    if value is None or value == "":
        return None
    if not is_identifier(value):
        raise BadRequest(name, f"{value!r} is not a valid identifier (letters, digits, '_', '.', '-'; 1-64)")
    return value


def time_range(query: Mapping[str, str], now_us: int, default_span_s: float, max_span_s: float) -> tuple[int, int]:
    """``start``/``end`` with defaults (the last ``default_span_s``) and checks (start < end, span cap)."""
    end = time_us(query, "end", now_us)
    assert end is not None
    start = time_us(query, "start", end - round(default_span_s * 1e6))
    assert start is not None
    if start >= end:
        raise BadRequest("start", "must be before end")
    if end - start > max_span_s * 1e6:
        raise BadRequest("start", f"the range from start to end may span at most {max_span_s:g} s")
    return start, end
