"""Replay of real recordings as a device: WFDB records (through ``wfdb``, annotations included) and
CSV files, resampled to the device rate and paced in real time or faster.

Stream mapping per ``kind``:

* ``ecg``: one channel (``--channel`` by name or index, default the first) -> ``ecg`` (mV).
* ``motion``: channels named like ``acc_x``/``ax``/``accX`` ... -> ``acc`` (g) and ``gyro_*``/``gx`` ...
  -> ``gyro`` (deg/s); without such names the first three channels are ``acc`` and the next three ``gyro``.
  Units are converted from what the recording states — a CSV header unit in brackets
  (``acc_x[m/s2]``, ``gyro_x[rad/s]``), a WFDB header's units — or from ``acc_unit``/``gyro_unit``
  (:data:`ACC_UNITS`, :data:`GYRO_UNITS`; ``iomt replay --acc-unit/--gyro-unit``). A motion stream
  whose unit neither the recording nor the caller states is refused, never assumed (a phone's
  m/s² read as g is a 9.8 g "impact" at rest), and so is a stated unit that contradicts the option.
* ``emotion``: channels named ``ecg``, ``eda``/``gsr``, ``ppg``/``bvp``/``pleth``, ``resp``/``rsp``.

WFDB beat annotations become ``beat`` truth mapped to the AAMI classes (N, L, R, e, j -> N; A, a, J,
S -> S; V, E -> V; F -> F; /, f, Q -> Q); rhythm annotations (``+`` with aux notes such as ``(AFIB``,
``(VT``, ``(N``) become ``rhythm`` episodes (AF, VT, ...; normal rhythm is not an episode). A CSV file
has a header row; a ``t``/``time`` column (seconds) gives the rate, or pass ``rate``; a ``label``
column, when present, marks annotations (non-empty cells) at that row's time.

A motion replay declares its sensor's placement in its retained device descriptor
(:mod:`iomt.wire.descriptor`): from ``placement`` (``iomt replay --placement``) or from a sidecar
``<recording>.json`` holding ``{"placement": "..."}`` (the convention of ``iomt eval fall``); a placement
outside :class:`~iomt.wire.descriptor.Placement`, or an option that contradicts the sidecar, is refused.
Neither: ``unknown`` (declared as such, never guessed).
"""

from __future__ import annotations

import csv
import json
import math
import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from firmware_sim.dataset import Annotation
from firmware_sim.devices import SimDevice
from iomt.wire.descriptor import AccUnit, Axes, DeviceDescriptor, GyroUnit, MotionSensor, Placement

AAMI = {**dict.fromkeys("NLRej", "N"), **dict.fromkeys("AaJS", "S"), **dict.fromkeys("VE", "V"), "F": "F",
        **dict.fromkeys("/fQ", "Q")}
RHYTHMS = {"(AFIB": "AF", "(AFL": "AFL", "(VT": "VT", "(VFL": "VF", "(SVTA": "SVT", "(B": "bigeminy",
           "(T": "trigeminy", "(IVR": "IVR", "(NOD": "nodal", "(BII": "block"}
DEVICE_RATES = {"ecg": 250.0, "acc": 50.0, "gyro": 50.0, "eda": 4.0, "ppg": 64.0, "resp": 32.0}
_NAMES = {
    "eda": ("eda", "gsr", "scl", "skin"), "ppg": ("ppg", "bvp", "pleth"), "resp": ("resp", "rsp", "breath"),
    "ecg": ("ecg", "mlii", "ii", "v1", "v5", "lead"),
}


#: motion units -> factor to g, and to deg/s
ACC_UNITS = {"g": 1.0, "mg": 1e-3, "m/s2": 1.0 / 9.80665, "m/s^2": 1.0 / 9.80665, "ms2": 1.0 / 9.80665}
GYRO_UNITS = {"deg/s": 1.0, "dps": 1.0, "rad/s": 180.0 / math.pi}
_UNIT = re.compile(r"^(?P<name>.*?)\s*\[(?P<unit>[^\]]*)\]\s*$")


def unit_factor(unit: str, table: dict[str, float], what: str, where: str) -> float:
    """The factor converting ``unit`` to the contract's unit; a clear error for an unknown one."""
    key = unit.strip().lower().replace(" ", "")
    if key not in table:
        raise ReplayError(f"{where}: {what} unit {unit!r} is not one of {', '.join(table)}")
    return table[key]


class ReplayError(ValueError):
    """A recording that cannot be replayed; the message names the file and the field or line."""


@dataclass
class Loaded:
    name: str
    rates: dict[str, float]
    signals: dict[str, np.ndarray]  # stream -> (n, channels) physical units
    truth: list[Annotation] = field(default_factory=list)
    #: where the motion sensor was worn (motion recordings; ``None`` for other kinds)
    placement: Placement | None = None

    @property
    def seconds(self) -> float:
        return min(len(v) / self.rates[k] for k, v in self.signals.items())


def load(path: Path, kind: str, *, channel: str | None = None, rate: float | None = None,
         annotator: str = "atr", acc_unit: str | None = None, gyro_unit: str | None = None,
         placement: str | None = None) -> Loaded:
    """Read a WFDB record (``.hea``/``.dat``, or the record path without extension) or a ``.csv``;
    motion in ``acc_unit``/``gyro_unit`` when the recording does not state its units, worn at
    ``placement`` (or what its sidecar states)."""
    if kind not in ("ecg", "motion", "emotion"):
        raise ReplayError(f"kind: must be ecg, motion or emotion, got {kind!r}")
    units: list[str | None]
    if path.suffix.lower() == ".csv":
        names, columns, fs, truth = _read_csv(path, rate)
        split = [_UNIT.match(n) for n in names]
        units = [m["unit"] if m else None for m in split]
        names = [m["name"] if m else n for m, n in zip(split, names, strict=True)]
    else:
        names, columns, fs, truth = _read_wfdb(path, annotator)
        units = list(_wfdb_units(path))
    signals, used = _map_streams(path, kind, names, columns, channel)
    if kind == "motion":
        for stream, table, option in (("acc", ACC_UNITS, acc_unit), ("gyro", GYRO_UNITS, gyro_unit)):
            if stream in signals:
                signals[stream] = signals[stream] * _motion_factor(path, stream, [units[i] for i in used[stream]],
                                                                   table, option)
    where = _placement(path, placement) if kind == "motion" else None
    return Loaded(path.stem, dict.fromkeys(signals, fs), signals, truth, where)


def _placement(path: Path, option: str | None) -> Placement:
    """The placement from the option or the recording's sidecar ``<name>.json``; ``unknown`` if neither."""
    known = ", ".join(p.value for p in Placement)
    stated: str | None = None
    sidecar = path.with_suffix(".json")
    if sidecar.is_file():
        try:
            body = json.loads(sidecar.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ReplayError(f"{sidecar}: cannot read: {exc}") from None
        value = body.get("placement") if isinstance(body, dict) else None
        if value is not None:
            if not isinstance(value, str) or value not in set(Placement):
                raise ReplayError(f"{sidecar}: placement: {str(value)[:40]!r} is not one of {known}")
            stated = value
    if option is not None and option not in set(Placement):
        raise ReplayError(f"placement: {option!r} is not one of {known}")
    if stated is not None and option is not None and option != stated:
        raise ReplayError(f"{path}: its sidecar {sidecar.name} states placement {stated!r} but {option!r} was given")
    return Placement(option or stated or Placement.UNKNOWN)


def _wfdb_units(path: Path) -> list[str | None]:
    import wfdb

    record_name = str(path.with_suffix("")) if path.suffix in (".hea", ".dat") else str(path)
    header = wfdb.rdheader(record_name)
    return [str(u) if u else None for u in (header.units or [None] * header.n_sig)]


def _motion_factor(path: Path, stream: str, stated: list[str | None], table: dict[str, float],
                   option: str | None) -> float:
    """Factor to the contract's unit for one stream, from its stated unit (header) or the option."""
    known = {s.strip().lower().replace(" ", "") for s in stated if s} & set(table)
    if len(known) > 1:
        raise ReplayError(f"{path}: {stream}: its channels state different units {sorted(known)}")
    if known and option and unit_factor(option, table, stream, str(path)) != table[next(iter(known))]:
        raise ReplayError(f"{path}: {stream}: the recording states {next(iter(known))!r} but {option!r} was given")
    if known:
        return table[next(iter(known))]
    if not option:
        flag = "--acc-unit" if stream == "acc" else "--gyro-unit"
        raise ReplayError(f"{path}: {stream}: the recording states no unit; say which with {flag} "
                          f"({' | '.join(table)}) or in its header (e.g. {stream}_x[{next(iter(table))}])")
    return unit_factor(option, table, stream, str(path))


def _read_wfdb(path: Path, annotator: str) -> tuple[list[str], np.ndarray, float, list[Annotation]]:
    import wfdb

    record_name = str(path.with_suffix("")) if path.suffix in (".hea", ".dat") else str(path)
    try:
        record = wfdb.rdrecord(record_name)
    except FileNotFoundError as exc:
        raise ReplayError(f"{path}: no such WFDB record ({exc.filename or record_name})") from None
    except (ValueError, IndexError, TypeError, OSError) as exc:
        raise ReplayError(f"{path}: unreadable WFDB header or signal file: {exc}") from None
    if record.p_signal is None or record.p_signal.size == 0:
        raise ReplayError(f"{path}: signals: the record holds no samples")
    fs = float(record.fs)
    columns = np.nan_to_num(np.asarray(record.p_signal, dtype=np.float64))
    names = [str(n) for n in (record.sig_name or [f"ch{i}" for i in range(columns.shape[1])])]
    truth: list[Annotation] = []
    if Path(f"{record_name}.{annotator}").exists():
        try:
            ann = wfdb.rdann(record_name, annotator, return_label_elements=["symbol"])
        except (ValueError, IndexError, TypeError, OSError) as exc:
            raise ReplayError(f"{record_name}.{annotator}: unreadable annotations: {exc}") from None
        truth = _wfdb_truth(ann.sample, ann.symbol, ann.aux_note, fs, len(columns) / fs)
    return names, columns, fs, truth


def _wfdb_truth(samples: Any, symbols: Any, aux: Any, fs: float, seconds: float) -> list[Annotation]:
    out: list[Annotation] = []
    rhythm: tuple[str, float] | None = None
    for sample, symbol, note in zip(samples, symbols, aux or [""] * len(samples), strict=False):
        t = float(sample) / fs
        if symbol in AAMI:
            out.append(Annotation(t, t, AAMI[symbol], "beat"))
        elif symbol == "+":
            if rhythm is not None:
                out.append(Annotation(rhythm[1], t, rhythm[0], "rhythm"))
                rhythm = None
            label = RHYTHMS.get(str(note).strip("\x00 "))
            if label is not None:
                rhythm = (label, t)
    if rhythm is not None:
        out.append(Annotation(rhythm[1], seconds, rhythm[0], "rhythm"))
    return out


def _read_csv(path: Path, rate: float | None) -> tuple[list[str], np.ndarray, float, list[Annotation]]:
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise ReplayError(f"{path}: cannot read: {exc.strerror}") from None
    with handle:
        reader = csv.reader(handle)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise ReplayError(f"{path} line 1: empty file, expected a header row") from None
        except (csv.Error, UnicodeDecodeError) as exc:
            raise ReplayError(f"{path} line 1: {exc}") from None
        lower = [h.lower() for h in header]
        time_col = next((i for i, h in enumerate(lower) if h in ("t", "time", "time_s", "seconds")), None)
        label_col = next((i for i, h in enumerate(lower) if h in ("label", "annotation")), None)
        value_cols = [i for i in range(len(header)) if i not in (time_col, label_col)]
        if not value_cols:
            raise ReplayError(f"{path} line 1: no signal columns in the header {header}")
        rows: list[list[float]] = []
        times: list[float] = []
        labels: list[tuple[int, str]] = []
        try:
            for row in reader:
                line = reader.line_num
                if not row or all(not c.strip() for c in row):
                    continue
                if len(row) != len(header):
                    raise ReplayError(f"{path} line {line}: {len(row)} fields, the header has {len(header)}")
                values = []
                for i in value_cols:
                    values.append(_number(path, line, header[i], row[i]))
                rows.append(values)
                if time_col is not None:
                    times.append(_number(path, line, header[time_col], row[time_col]))
                if label_col is not None and row[label_col].strip():
                    labels.append((len(rows) - 1, row[label_col].strip()))
        except (csv.Error, UnicodeDecodeError) as exc:
            raise ReplayError(f"{path} line {reader.line_num}: {exc}") from None
    if len(rows) < 2:
        raise ReplayError(f"{path}: fewer than two samples")
    if rate is None:
        if time_col is None:
            raise ReplayError(f"{path} line 1: no time column ('t' or 'time') and no rate given")
        dt = np.diff(times)
        if np.any(dt <= 0):
            bad = int(np.argmax(dt <= 0)) + 3
            raise ReplayError(f"{path} line {bad}: {header[time_col]}: time does not increase")
        rate = round(float((len(times) - 1) / (times[-1] - times[0])), 6)
    truth = []
    for index, label in labels:
        t = index / rate
        truth.append(Annotation(t, t, AAMI.get(label, label), "beat" if label in AAMI else "activity"))
    return [header[i] for i in value_cols], np.asarray(rows, dtype=np.float64), rate, truth


def _number(path: Path, line: int, column: str, cell: str) -> float:
    try:
        value = float(cell)
    except ValueError:
        raise ReplayError(f"{path} line {line}: {column}: {cell!r} is not a number") from None
    if not math.isfinite(value):
        raise ReplayError(f"{path} line {line}: {column}: {cell!r} is not finite")
    return value


def _map_streams(path: Path, kind: str, names: list[str], columns: np.ndarray,
                 channel: str | None) -> tuple[dict[str, np.ndarray], dict[str, list[int]]]:
    """The streams of ``kind`` and, per stream, the column indices it came from."""
    lower = [re.sub(r"[^a-z0-9]", "", n.lower()) for n in names]
    if kind == "ecg":
        if channel is None:
            idx = next((i for i, n in enumerate(lower) if any(n.startswith(k) for k in _NAMES["ecg"])), 0)
        elif channel.isdigit():
            idx = int(channel)
        elif channel.lower() in [n.lower() for n in names]:
            idx = [n.lower() for n in names].index(channel.lower())
        else:
            raise ReplayError(f"{path}: channel: no channel {channel!r}; channels: {', '.join(names)}")
        if idx >= columns.shape[1]:
            raise ReplayError(f"{path}: channel: index {idx} but the recording has {columns.shape[1]} channels")
        return {"ecg": columns[:, idx:idx + 1]}, {"ecg": [idx]}
    if kind == "motion":
        acc = [i for i, n in enumerate(lower) if re.fullmatch(r"(acc|a)(el)?[_]?[xyz]|acc[xyz]|a[xyz]", n)]
        gyro = [i for i, n in enumerate(lower) if re.fullmatch(r"(gyro?|g)[_]?[xyz]|gyro[xyz]|g[xyz]", n)]
        if len(acc) != 3:
            if columns.shape[1] < 3:
                raise ReplayError(f"{path}: channels: motion needs 3 accelerometer channels, found {names}")
            acc, gyro = [0, 1, 2], ([3, 4, 5] if columns.shape[1] >= 6 else [])
        out = {"acc": columns[:, acc]}
        used = {"acc": list(acc)}
        if len(gyro) == 3:
            out["gyro"] = columns[:, gyro]
            used["gyro"] = list(gyro)
        return out, used
    found: dict[str, np.ndarray] = {}
    cols: dict[str, list[int]] = {}
    for stream, keys in _NAMES.items():
        col = next((i for i, n in enumerate(lower) if any(n.startswith(k) for k in keys)), None)
        if col is not None:
            found[stream] = columns[:, col:col + 1]
            cols[stream] = [col]
    if "ecg" not in found and "ppg" not in found:
        raise ReplayError(f"{path}: channels: emotion needs an ecg or ppg channel, found {names}")
    return found, cols


def resample(signal: np.ndarray, fs_in: float, fs_out: float) -> np.ndarray:
    """Polyphase resampling (anti-aliased) along axis 0.

    Each channel's median is taken off before and put back after: the filter pads with zeros and its
    phases' gains differ from 1 in the third decimal, so a channel sitting thousands of units off zero
    (a raw ADC PPG or EDA) would ring at its ends and at the new rate by more than its own signal.
    """
    if math.isclose(fs_in, fs_out):
        return signal
    from scipy.signal import resample_poly

    ratio = Fraction(fs_out / fs_in).limit_denominator(1000)
    centre = np.median(signal, axis=0, keepdims=True) if len(signal) else 0.0
    return np.asarray(resample_poly(signal - centre, ratio.numerator, ratio.denominator, axis=0)) + centre


class ReplayDevice(SimDevice):
    """Publishes a loaded recording frame by frame at the device rates; annotations become truth."""

    kind = "replay"

    def __init__(self, device_id: str, loaded: Loaded, rng: np.random.Generator, frame_s: float = 0.5,
                 rates: dict[str, float] | None = None) -> None:
        super().__init__(device_id, rng)
        self.loaded = loaded
        self._queue = sorted(loaded.truth, key=lambda a: a.t_s)
        frame_s = max(frame_s, 1.0) if "eda" in loaded.signals else frame_s
        self.frames = math.floor(loaded.seconds / frame_s)
        for stream, signal in loaded.signals.items():
            fs = (rates or {}).get(stream, DEVICE_RATES[stream])
            data = resample(signal, loaded.rates[stream], fs)
            self._source(stream, fs, frame_s, self._renderer(stream, data, fs, frame_s))

    def descriptor(self) -> DeviceDescriptor | None:
        if self.loaded.placement is None or "acc" not in self.loaded.signals:
            return None
        gyro = GyroUnit.DEG_S if "gyro" in self.loaded.signals else None  # converted to the wire's units on load
        return DeviceDescriptor(MotionSensor(self.loaded.placement, AccUnit.G, gyro, Axes.SENSOR))

    def _renderer(self, stream: str, data: np.ndarray, fs: float, frame_s: float) -> Any:
        n = round(fs * frame_s)
        counter = [0]

        def render(seq: int, t0_us: int) -> bytes:
            k = counter[0]
            counter[0] += 1
            chunk = data[k * n:(k + 1) * n]
            if len(chunk) < n:  # the last partial frame repeats its last sample
                chunk = np.concatenate([chunk, np.repeat(chunk[-1:], n - len(chunk), axis=0)])
            if stream == next(iter(self.loaded.signals)):
                end_s = (k + 1) * frame_s
                while self._queue and self._queue[0].t_s < end_s:
                    a = self._queue.pop(0)
                    self.note(a.kind, a.label, a.t_s, a.t_end_s)
            return self._frame(stream, seq, t0_us, fs, chunk if chunk.shape[1] > 1 else chunk[:, 0])

        return render
