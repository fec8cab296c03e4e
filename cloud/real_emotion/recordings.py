"""Load the fetched real recordings (:mod:`cloud.real_emotion.sources`) as they come: each channel in
the units its source gives (mV, microsiemens or raw ADC counts: the emotion features do not depend on
them), at its own rate.

No real source holds ECG, EDA and PPG together, which the emotion band sends. :func:`combined` joins
channels of *different* real recordings into one input, marked ``composite`` and named after its
parts: the model then runs on real signals throughout, but their timing relative to each other means
nothing, and no output on them is a verdict about a person.
"""

from __future__ import annotations

import io
import pickle
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from cloud.real_emotion.sources import DEFAULT_CACHE, fetched_file

CHANNELS = ("ecg", "eda", "ppg")


@dataclass(frozen=True)
class RealRecording:
    """Real channels (``ecg``, ``eda``, ``ppg``; any subset) with their rates, units as stated and origin."""

    name: str
    signals: dict[str, np.ndarray]
    rates: dict[str, float]
    units: str
    sources: tuple[str, ...]
    composite: bool = False
    notes: dict[str, str] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return min((len(x) / self.rates[s] for s, x in self.signals.items()), default=0.0)


class _PlainData(pickle.Unpickler):
    """An unpickler for plain lists and numbers: any class or function reference is refused."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refusing {module}.{name}: only plain data is loaded from a package's pickle")


def _plain_pickle(path: Path) -> np.ndarray:
    return np.asarray(_PlainData(io.BytesIO(path.read_bytes())).load(), dtype=np.float64).ravel()


def _bitalino_txt(path: Path) -> tuple[np.ndarray, float]:
    """A BITalino 'Simple Text Format' file: ``# Sampling Rate (Hz):= 1000.00`` header, one value a line."""
    rate = None
    with path.open() as handle:
        for line in handle:
            if not line.startswith("#"):
                break
            if "Sampling Rate" in line:
                rate = float(line.split(":=")[1])
    if rate is None:
        raise ValueError(f"{path}: no '# Sampling Rate (Hz):=' header line")
    return np.loadtxt(path, comments="#", dtype=np.float64).ravel(), rate


def _rate_from_times(seconds: np.ndarray, what: str) -> float:
    """Samples per second over the whole time column (heartpy's data3 clock ticks in ~15 ms steps, so
    neighbouring rows often share a time stamp: only the span is meaningful)."""
    span = float(seconds[-1] - seconds[0]) if seconds.size > 1 else 0.0
    if span <= 0 or np.any(np.diff(seconds) < 0):
        raise ValueError(f"{what}: its time column does not increase")
    return (seconds.size - 1) / span


def bioread_recording(cache: Path = DEFAULT_CACHE) -> RealRecording | None:
    path = fetched_file("bioread", "physio-4.4.0.acq", cache)
    if path is None:
        return None
    import bioread

    channels = {c.name: c for c in bioread.read_file(str(path)).channels}
    ecg, eda = channels["EKG - ERS100C"], channels["EDA - GSR100C"]
    return RealRecording("bioread/physio-4.4.0", {"ecg": np.asarray(ecg.data, np.float64),
                                                  "eda": np.asarray(eda.data, np.float64)},
                         {"ecg": float(ecg.samples_per_second), "eda": float(eda.samples_per_second)},
                         f"ECG {ecg.units}, EDA {eda.units} (file header)", ("bioread",))


def pysiology_recording(cache: Path = DEFAULT_CACHE) -> RealRecording | None:
    ecg, eda = (fetched_file("pysiology", f"converted{c}.pkl", cache) for c in ("ECG", "EDA"))
    if ecg is None or eda is None:
        return None
    return RealRecording("pysiology/sample", {"ecg": _plain_pickle(ecg), "eda": _plain_pickle(eda)},
                         {"ecg": 1000.0, "eda": 1000.0}, "not stated (arbitrary)", ("pysiology",),
                         notes={"pairing": "pysiology ships them as one example; same session not stated"})


def biosppy_recordings(cache: Path = DEFAULT_CACHE) -> list[RealRecording]:
    out = []
    for channel in CHANNELS:
        path = fetched_file("biosppy", f"examples/{channel}.txt", cache)
        if path is not None:
            x, rate = _bitalino_txt(path)
            out.append(RealRecording(f"biosppy/{channel}", {channel: x}, {channel: rate}, "raw 12-bit ADC counts",
                                     ("biosppy",)))
    return out


def heartpy_recordings(cache: Path = DEFAULT_CACHE) -> list[RealRecording]:
    out = []
    path = fetched_file("heartpy", "data.csv", cache)
    if path is not None:
        x = np.loadtxt(path, delimiter=",", dtype=np.float64).ravel()
        out.append(RealRecording("heartpy/data", {"ppg": x}, {"ppg": 100.0}, "raw ADC counts", ("heartpy",)))
    path = fetched_file("heartpy", "data2.csv", cache)
    if path is not None:
        t_ms, x = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64).T
        out.append(RealRecording("heartpy/data2", {"ppg": x}, {"ppg": _rate_from_times(t_ms / 1000, str(path))},
                                 "raw ADC counts", ("heartpy",)))
    path = fetched_file("heartpy", "data3.csv", cache)
    if path is not None:
        rows = [line.split(",") for line in path.read_text().splitlines()[1:] if line.strip()]
        t = np.array([datetime.fromisoformat(r[0]).timestamp() for r in rows])
        x = np.array([float(r[1]) for r in rows])
        out.append(RealRecording("heartpy/data3", {"ppg": x}, {"ppg": _rate_from_times(t, str(path))},
                                 "raw ADC counts", ("heartpy",)))
    return out


def systole_recording(cache: Path = DEFAULT_CACHE) -> RealRecording | None:
    path = fetched_file("systole", "datasets/ppg.npy", cache)
    if path is None:
        return None
    x = np.load(path, allow_pickle=False).astype(np.float64).ravel()
    return RealRecording("systole/ppg", {"ppg": x}, {"ppg": 75.0}, "8-bit (0-255)", ("systole",))


def load_all(cache: Path = DEFAULT_CACHE) -> list[RealRecording]:
    """Every fetched recording as its source has it (an empty list when nothing is fetched)."""
    out: list[RealRecording] = []
    for one in (bioread_recording(cache), pysiology_recording(cache)):
        if one is not None:
            out.append(one)
    out += biosppy_recordings(cache)
    out += heartpy_recordings(cache)
    systole = systole_recording(cache)
    if systole is not None:
        out.append(systole)
    return out


def from_files(paths: list[Path]) -> list[RealRecording]:
    """Recordings a user points at (``iomt eval emotion --recordings DIR``): CSV files or WFDB records read
    by :func:`firmware_sim.replay.load` (channels named ``ecg``, ``eda``/``gsr``, ``ppg``/``bvp``/``pleth``),
    in whatever units they are in (the features do not depend on them). A ``.hea`` stands for its record;
    a file replay cannot read raises :class:`firmware_sim.replay.ReplayError` naming it."""
    from firmware_sim.replay import load

    out = []
    for path in sorted(paths):
        if path.suffix.lower() not in (".csv", ".hea"):
            continue
        rec = load(path, "emotion")
        signals = {s: np.asarray(x, dtype=np.float64)[:, 0] for s, x in rec.signals.items() if s in CHANNELS}
        out.append(RealRecording(str(path), signals, {s: rec.rates[s] for s in signals}, "as recorded",
                                 (path.name,)))
    return out


def from_folder(folder: Path) -> list[RealRecording]:
    """:func:`from_files` of every CSV/WFDB recording in ``folder`` and its subfolders; a folder that is
    not there, or holds none, is refused with what to put in it."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"recordings folder {folder} does not exist: name a folder of CSV or WFDB recordings")
    recs = from_files([p for p in folder.rglob("*") if p.is_file()])
    if not recs:
        raise ValueError(f"no recording in {folder}: put CSV files (columns ecg, eda/gsr, ppg/bvp/pleth and a "
                         "time column) or WFDB records (.hea + .dat) there")
    return recs


def default_recordings(cache: Path = DEFAULT_CACHE) -> list[RealRecording]:
    """Every recording fetched into ``cache`` (:func:`load_all`), plus the ECG+EDA+PPG composites they
    make (:func:`composites`)."""
    recs = load_all(cache)
    return [*recs, *composites(recs)]


def combined(*parts: tuple[RealRecording, str]) -> RealRecording:
    """One input from channels of different recordings (``(recording, channel)`` each), cut to the
    shortest; marked ``composite``."""
    signals, rates, units = {}, {}, []
    for rec, channel in parts:
        signals[channel] = rec.signals[channel]
        rates[channel] = rec.rates[channel]
        units.append(f"{channel}: {rec.name} ({rec.units})")
    seconds = min(len(x) / rates[c] for c, x in signals.items())
    signals = {c: x[: int(seconds * rates[c])] for c, x in signals.items()}
    name = " + ".join(f"{rec.name}:{channel}" for rec, channel in parts)
    origin = tuple(dict.fromkeys(s for rec, _ in parts for s in rec.sources))
    return RealRecording(name, signals, rates, "; ".join(units), origin, composite=True)


def composites(recordings: list[RealRecording]) -> list[RealRecording]:
    """The ECG + EDA + PPG inputs the fetched recordings make: each real ECG+EDA pair (recorded
    together, or shipped together) with each real PPG long enough for a window."""
    from models.preprocessing.emotion import WINDOW_S

    pairs = [r for r in recordings if {"ecg", "eda"} <= set(r.signals) and r.seconds >= WINDOW_S]
    ppgs = [r for r in recordings if "ppg" in r.signals and len(r.signals["ppg"]) / r.rates["ppg"] >= WINDOW_S]
    return [combined((pair, "ecg"), (pair, "eda"), (ppg, "ppg")) for pair in pairs for ppg in ppgs]
