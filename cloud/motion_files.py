"""Motion recordings of daily activity from files, for ``iomt eval fall --recordings DIR``: CSV and
WFDB, with the units stated by the file or by the caller — never guessed.

**CSV** (one recording per ``.csv``): a header row, then one row per sample.

=====================  ==========================================================================
column                 meaning
=====================  ==========================================================================
``t`` or ``time``      seconds; gives the rate (else pass ``rate_hz``)
``acc_x/acc_y/acc_z``  acceleration, required. Units in brackets (``acc_x[m/s2]``) or ``acc_unit``
``gyro_x/y/z``         angular rate, optional. Units in brackets (``gyro_x[rad/s]``) or ``gyro_unit``
``label``              optional activity of each row; runs of one label become intervals
=====================  ==========================================================================

Units: acceleration ``g``, ``mg``, ``m/s2`` (or ``m/s^2``); angular rate ``deg/s`` (or ``dps``),
``rad/s``. A file that states none and a call that passes none is refused.

**WFDB** (``.hea`` + signal files): channels named ``acc_x`` ... ``gyro_z`` (or ``ax``/``gx`` ...);
the units are the header's own (``g``, ``mg``, ``m/s^2``, ``deg/s``, ``rad/s``).

The placement (waist, wrist, ...) comes from ``placement`` or, per file, from a sidecar
``<name>.json`` holding ``{"placement": "..."}``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from cloud.real_motion import MotionRecording
from firmware_sim.replay import ACC_UNITS, GYRO_UNITS  # one table of motion units for replay and evaluation

_COLUMN = re.compile(r"^\s*(?P<name>[A-Za-z_]+)\s*(\[(?P<unit>[^\]]+)\])?\s*$")
_ACC_NAMES = {"acc_x": 0, "acc_y": 1, "acc_z": 2, "ax": 0, "ay": 1, "az": 2}
_GYRO_NAMES = {"gyro_x": 0, "gyro_y": 1, "gyro_z": 2, "gyr_x": 0, "gyr_y": 1, "gyr_z": 2, "gx": 0, "gy": 1, "gz": 2}


class RecordingError(ValueError):
    """A recording that cannot be evaluated; the message names the file, the column and what to do."""


def load_directory(
    directory: Path, *, acc_unit: str | None = None, gyro_unit: str | None = None, rate_hz: float | None = None,
    placement: str | None = None,
) -> list[MotionRecording]:
    """Every ``.csv`` and WFDB record (``.hea``) under ``directory`` (recursively), sorted by path."""
    directory = Path(directory)
    if not directory.is_dir():
        raise RecordingError(f"{directory}: not a directory of recordings")
    files = sorted([*directory.rglob("*.csv"), *directory.rglob("*.hea")])
    if not files:
        raise RecordingError(f"{directory}: no .csv or .hea recordings in it")
    return [load_file(f, acc_unit=acc_unit, gyro_unit=gyro_unit, rate_hz=rate_hz, placement=placement)
            for f in files]


def load_file(
    path: Path, *, acc_unit: str | None = None, gyro_unit: str | None = None, rate_hz: float | None = None,
    placement: str | None = None,
) -> MotionRecording:
    path = Path(path)
    sidecar = path.with_suffix(".json")
    where = placement or (str(json.loads(sidecar.read_text()).get("placement", "unknown"))
                          if sidecar.is_file() else "unknown")
    if path.suffix.lower() == ".hea":
        return _wfdb(path, where)
    return _csv(path, acc_unit, gyro_unit, rate_hz, where)


def _factor(path: Path, column: str, unit: str | None, table: dict[str, float], what: str) -> float:
    if unit is None:
        raise RecordingError(f"{path}: {column}: no unit stated; write it in the header ({column}[unit]) or pass "
                             f"the {what} unit ({', '.join(table)})")
    key = unit.strip().lower().replace(" ", "")
    if key not in table:
        raise RecordingError(f"{path}: {column}: unknown unit {unit!r}; use one of {', '.join(table)}")
    return table[key]


def _csv(path: Path, acc_unit: str | None, gyro_unit: str | None, rate_hz: float | None,
         placement: str) -> MotionRecording:
    import pandas as pd

    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise RecordingError(f"{path}: unreadable CSV: {exc}") from None
    cols: dict[str, tuple[str, str | None]] = {}
    for raw in frame.columns:
        m = _COLUMN.match(str(raw))
        if m:
            cols[m["name"].lower()] = (str(raw), m["unit"])
    acc_cols = sorted((v, k) for k, v in _ACC_NAMES.items() if k in cols)
    if len(acc_cols) != 3:
        raise RecordingError(f"{path} line 1: need columns acc_x, acc_y, acc_z; the header has {list(frame.columns)}")
    gyro_cols = sorted((v, k) for k, v in _GYRO_NAMES.items() if k in cols)
    if gyro_cols and len(gyro_cols) != 3:
        raise RecordingError(f"{path} line 1: gyro needs all three of gyro_x, gyro_y, gyro_z")

    def numbers(name: str) -> np.ndarray:
        raw = cols[name][0]
        values = pd.to_numeric(frame[raw], errors="coerce").to_numpy(np.float64)
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            i = int(bad[0])
            raise RecordingError(f"{path} line {i + 2}: {raw}: {frame[raw].iloc[i]!r} is not a finite number")
        return values

    acc = np.stack([numbers(k) for _, k in acc_cols], axis=1)
    acc *= _factor(path, cols[acc_cols[0][1]][0], cols[acc_cols[0][1]][1] or acc_unit, ACC_UNITS, "acceleration")
    gyro = None
    if gyro_cols:
        gyro = np.stack([numbers(k) for _, k in gyro_cols], axis=1)
        gyro *= _factor(path, cols[gyro_cols[0][1]][0], cols[gyro_cols[0][1]][1] or gyro_unit, GYRO_UNITS,
                        "angular rate")
    time_key = next((k for k in ("t", "time", "time_s") if k in cols), None)
    if rate_hz is None:
        if time_key is None:
            raise RecordingError(f"{path} line 1: no time column (t or time, seconds) and no rate given")
        t = numbers(time_key)
        dt = np.diff(t)
        if len(t) < 2 or np.any(dt <= 0):
            bad = int(np.argmax(dt <= 0)) + 3 if len(t) >= 2 else 2
            raise RecordingError(f"{path} line {bad}: {time_key}: time does not increase")
        rate_hz = round(float((len(t) - 1) / (t[-1] - t[0])), 6)
    labels: tuple[tuple[float, float, str], ...] = ()
    if "label" in cols:
        lab = frame[cols["label"][0]].to_numpy(str)
        change = np.flatnonzero(lab[1:] != lab[:-1]) + 1
        starts = np.concatenate([[0], change])
        ends = np.concatenate([change, [len(lab)]])
        labels = tuple((s / rate_hz, e / rate_hz, str(lab[s])) for s, e in zip(starts, ends, strict=True) if lab[s])
    return MotionRecording("files", str(path), path.stem, placement, float(rate_hz), acc, gyro, labels)


def _wfdb(path: Path, placement: str) -> MotionRecording:
    import wfdb

    try:
        record = wfdb.rdrecord(str(path.with_suffix("")))
    except (OSError, ValueError, IndexError, TypeError) as exc:
        raise RecordingError(f"{path}: unreadable WFDB record: {exc}") from None
    if record.p_signal is None:
        raise RecordingError(f"{path}: the record holds no samples")
    names = [str(n).lower() for n in record.sig_name]
    units = [str(u) for u in record.units]
    sig = np.asarray(record.p_signal, dtype=np.float64)

    def channels(table: dict[str, int], factors: dict[str, float], what: str) -> np.ndarray | None:
        idx = sorted((table[n], i) for i, n in enumerate(names) if n in table)
        if not idx:
            return None
        if len(idx) != 3:
            raise RecordingError(f"{path}: {what} needs three channels (x, y, z); found {[names[i] for _, i in idx]}")
        f = _factor(path, names[idx[0][1]], units[idx[0][1]], factors, what)
        return sig[:, [i for _, i in idx]] * f

    acc = channels(_ACC_NAMES, ACC_UNITS, "acceleration")
    if acc is None:
        raise RecordingError(f"{path}: no acc_x/acc_y/acc_z channels; the record has {record.sig_name}")
    gyro = channels(_GYRO_NAMES, GYRO_UNITS, "angular rate")
    return MotionRecording("files", str(path), path.stem, placement, float(record.fs), np.nan_to_num(acc),
                           None if gyro is None else np.nan_to_num(gyro))
