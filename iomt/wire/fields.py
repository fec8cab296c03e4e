"""Checks of free-form JSON fields that every store can hold: text that is UTF-8 (JSON may carry
lone surrogates, ``"\\ud800"``, which no database encodes) and integers within a signed 64-bit column.

Decoders apply them so that a value no store can write is a :class:`DecodeError` naming its field
(a dead letter), never an error inside a store's transaction that fails the whole batch around it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from iomt.wire.errors import DecodeError

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


def check_text(field: str, value: str) -> str:
    """``value`` if it encodes to UTF-8, else :class:`DecodeError` naming ``field``."""
    try:
        value.encode()
    except UnicodeEncodeError:
        raise DecodeError(field, "is not valid Unicode text (a lone surrogate escape such as \\ud800)") from None
    return value


def check_int64(field: str, value: int, minimum: int = INT64_MIN) -> int:
    """``value`` if ``minimum <= value <= 2^63-1`` (what a 64-bit integer column holds)."""
    if not minimum <= value <= INT64_MAX:
        raise DecodeError(field, f"{value} is outside {minimum}..{INT64_MAX}")
    return value


def check_finite(field: str, value: float) -> float:
    """``value`` (a JSON number) if it is finite as a float: an integer of 400 digits is not (converting
    it raises ``OverflowError``), nor are NaN and infinity."""
    try:
        finite = math.isfinite(value)
    except OverflowError:
        finite = False
    if not finite:
        raise DecodeError(field, f"must be a finite number, got {str(value)[:24]}")
    return value


def check_json_tree(field: str, value: Any, depth: int = 0) -> None:
    """Every string (key or value) in a JSON tree is valid text and every integer fits 64 bits."""
    if depth > 32:
        raise DecodeError(field, "nested more than 32 levels deep")
    if isinstance(value, str):
        check_text(field, value)
    elif isinstance(value, bool) or value is None or isinstance(value, float):
        return
    elif isinstance(value, int):
        check_int64(field, value)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            check_text(field, key)
            check_json_tree(field, item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            check_json_tree(field, item, depth + 1)


def load_json(payload: bytes, what: str = "invalid JSON") -> Any:
    """``json.loads`` whose every failure is a :class:`DecodeError` on field ``json``: bad UTF-8 or
    syntax, an integer of more than 4,300 digits (a ``ValueError``), nesting deep enough to exhaust the
    stack (a ``RecursionError``)."""
    try:
        return json.loads(payload)
    except RecursionError:
        raise DecodeError("json", f"{what}: nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, and the int digit limit
        raise DecodeError("json", f"{what}: {exc}"[:300]) from None
