"""The :class:`~iomt.wire.events.Event` record as store cells, derived from its dataclass fields.

One definition for both backends: the SQLite columns (and their DDL), the InfluxDB tags and fields,
what a row holds and how it becomes an Event again all follow ``dataclasses.fields(Event)`` and the
fields' types, so a field added to the record reaches every store without a second list to keep.

A cell is what a store keeps: enums as their values, ``detail`` as JSON text, numbers as numbers,
``None`` for an absent optional value.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any

from iomt.wire.events import Event

Cell = str | int | float | None

#: Every field of the record, in its declaration order.
COLUMNS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Event))
#: The de-duplication key.
KEY = "event_id"


def _unwrap(hint: Any) -> tuple[Any, bool]:
    """``X | None`` -> (X, True); anything else -> (hint, False)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return hint, False


_HINTS = typing.get_type_hints(Event)
_BASE = {name: _unwrap(_HINTS[name]) for name in COLUMNS}
#: Fields that may be absent (``X | None``).
OPTIONAL = frozenset(name for name, (_t, optional) in _BASE.items() if optional)


def _is_mapping(tp: Any) -> bool:
    origin = typing.get_origin(tp) or tp
    return isinstance(origin, type) and issubclass(origin, Mapping)


def _encoder(tp: Any) -> Callable[[Any], Cell]:
    if _is_mapping(tp):
        return lambda v: json.dumps(dict(v))
    if isinstance(tp, type) and issubclass(tp, Enum):
        return lambda v: str(tp(v).value)
    if tp in (str, int, float):
        return tp
    raise TypeError(f"Event field of type {tp!r} has no store cell; add it to gateway.store.event_cells")


def _decoder(tp: Any) -> Callable[[Any], Any]:
    if _is_mapping(tp):
        return json.loads
    if isinstance(tp, type) and issubclass(tp, Enum | str | int | float):
        return tp
    raise TypeError(f"Event field of type {tp!r} has no store cell; add it to gateway.store.event_cells")


_ENCODE = {name: _encoder(tp) for name, (tp, _o) in _BASE.items()}
_DECODE = {name: _decoder(tp) for name, (tp, _o) in _BASE.items()}


def cells(event: Event) -> dict[str, Cell]:
    """The event as cells, one per field in :data:`COLUMNS` order."""
    out: dict[str, Cell] = {}
    for name in COLUMNS:
        value = getattr(event, name)
        out[name] = None if value is None else _ENCODE[name](value)
    return out


def from_cells(row: Mapping[str, Any]) -> Event:
    """The event a row of cells holds (keys beyond :data:`COLUMNS` are ignored; a missing optional is ``None``)."""
    values: dict[str, Any] = {}
    for name in COLUMNS:
        cell = row.get(name)
        if cell is None:
            if name not in OPTIONAL:
                raise ValueError(f"stored event lacks its {name!r}")
            values[name] = None
        else:
            values[name] = _DECODE[name](cell)
    return Event(**values)


def sqlite_columns() -> str:
    """The column definitions of the SQLite ``events`` table (without its bookkeeping columns)."""
    types_ = {str: "TEXT", int: "INTEGER", float: "REAL"}
    defs = []
    for name in COLUMNS:
        tp, optional = _BASE[name]
        sql = "TEXT" if _is_mapping(tp) or issubclass(tp, Enum) else types_[tp]
        defs.append(f"{name} {sql}" + (" PRIMARY KEY" if name == KEY else "" if optional else " NOT NULL"))
    return ", ".join(defs)
