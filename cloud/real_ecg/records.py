"""Load the fetched real ECG recordings as :class:`RealRecord`: one lead in mV, its rate, its lead
name, and the beats where the source annotates them (sample index and AAMI class).

Units are converted explicitly from what each file states (WFDB gain and units, DICOM channel
sensitivity in uV, ISHNE resolution in nV, BITalino's ECG transfer function for raw ADC counts); where
a source states no unit or a unit its values contradict, the record says so in ``notes``.
Annotations are mapped to AAMI classes with the replay's table (N, L, R, e, j -> N; A, a, J, S -> S;
V, E -> V; F -> F; /, f -> Q) except that an unclassifiable beat (``Q``) gets no class (our Q is the
paced beat; AAMI puts both in Q); non-beat annotations (rhythm, noise, artefact markers) are dropped
from the classes, and an annotation flagged as artefact (class "") is neither a beat to find nor a
place where a detection counts as extra.
"""

from __future__ import annotations

import csv
import json
import pickle
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cloud.real_ecg.fetch import DEFAULT_DEST, ecg_dir
from cloud.real_ecg.sources import RESERVED, source

#: WFDB beat symbols -> AAMI class (``iomt replay``'s table, but an unclassifiable beat has no class here).
AAMI = {**dict.fromkeys("NLRej", "N"), **dict.fromkeys("AaJS", "S"), **dict.fromkeys("VE", "V"), "F": "F",
        **dict.fromkeys("/f", "Q"), "Q": ""}
#: SNOMED CT codes of the CPSC-2018 records' diagnoses.
SNOMED = {"426783006": "sinus rhythm", "59118001": "right bundle branch block", "164889003": "atrial fibrillation",
          "164884008": "ventricular ectopics", "429622005": "ST depression"}
#: BITalino ECG sensor: mV = (ADC / 2**bits - 0.5) * VCC / gain * 1000, VCC 3.3 V, gain 1100 (datasheet).
BITALINO_MV_PER_FULL_SCALE = 3.3 / 1100 * 1000


class RecordError(ValueError):
    """A recording that is missing or unreadable; the message names the file and what to do."""


@dataclass(frozen=True)
class RealRecord:
    """One lead of a real recording. ``beats``/``labels``: annotated beat sample indices and their AAMI
    class ("" for an annotated beat with no class, e.g. flagged as artefact); ``None`` without annotations."""

    name: str
    source: str
    fs: float
    lead: str
    signal_mv: np.ndarray
    use: str
    rhythm: str = ""
    beats: np.ndarray | None = None
    labels: tuple[str, ...] | None = None
    notes: str = ""
    #: R-peaks another tool found, shipped with the recording (a reference, not an annotation)
    shipped_peaks: np.ndarray | None = field(default=None, repr=False)

    @property
    def seconds(self) -> float:
        return self.signal_mv.size / self.fs

    @property
    def annotated(self) -> bool:
        return self.beats is not None


def _path(root: Path, key: str, name: str) -> Path:
    if any(r in name for r in RESERVED):
        raise RecordError(f"{name}: reserved for the team's validation; never loaded")
    path = root / key / name
    if not path.is_file():
        raise RecordError(f"{path}: missing; run `python -m cloud.real_ecg.fetch` first")
    return path


def _use(key: str, record: str) -> str:
    use = source(key).use
    if ":" not in use:
        return use
    for part in use.split():
        role, names = part.split(":")
        if record in names.split(","):
            return role
    return "eval"


def wfdb_lead(root: Path, key: str, record: str, lead: str, *, annotations: bool, rhythm: str = "",
          notes: str = "", scale: float = 1.0) -> RealRecord:
    """One lead of a fetched WFDB record in mV (``scale`` for a header whose stated unit is wrong)."""
    import wfdb

    hea = _path(root, key, f"{record}.hea")
    rec = wfdb.rdrecord(str(hea.with_suffix("")))
    names = [str(n) for n in rec.sig_name]
    if lead not in names:
        raise RecordError(f"{hea}: no lead {lead!r}; leads: {', '.join(names)}")
    i = names.index(lead)
    if str(rec.units[i]).lower() != "mv":
        raise RecordError(f"{hea}: lead {lead} is in {rec.units[i]!r}, expected mV")
    x = np.nan_to_num(np.asarray(rec.p_signal[:, i], dtype=np.float64)) * scale
    beats = labels = None
    if annotations:
        ann = wfdb.rdann(str(hea.with_suffix("")), "atr")
        keep = [k for k, s in enumerate(ann.symbol) if s in AAMI]
        beats = np.asarray(ann.sample, dtype=np.int64)[keep]
        labels = tuple(AAMI[ann.symbol[k]] for k in keep)
    return RealRecord(f"{key}/{record}", key, float(rec.fs), lead, x, _use(key, record), rhythm, beats, labels, notes)


def _mitdb(root: Path) -> Iterator[RealRecord]:
    for record in ("100", "101"):
        yield wfdb_lead(root, "mitdb", record, "MLII", annotations=True, rhythm="sinus rhythm, few ectopic beats")


def _ishne(root: Path) -> Iterator[RealRecord]:
    """ISHNE 1.0: 'ISHNE1.0', CRC, a 512-byte header (little-endian), interleaved int16 leads scaled by
    each lead's resolution (nV); the .ann file repeats the header and then holds (label, label2, delta
    samples) per beat from a first sample."""
    ecg = _path(root, "ishne", "ECG_P28.01.ecg").read_bytes()
    if ecg[:8] != b"ISHNE1.0":
        raise RecordError("ishne/ECG_P28.01.ecg: not an ISHNE 1.0 file (magic)")
    var_size, n, _var_off, ecg_off = struct.unpack("<iiii", ecg[10:26])
    nleads = struct.unpack("<h", ecg[156:158])[0]
    codes = struct.unpack("<12h", ecg[158:182])
    resolution_nv = struct.unpack("<12h", ecg[206:230])
    fs = float(struct.unpack("<h", ecg[272:274])[0])
    lead_names = {5: "I", 6: "II", 7: "III", 8: "aVR", 9: "aVL", 10: "aVF", 11: "V1", 12: "V2", 13: "V3",
                  14: "V4", 15: "V5", 16: "V6"}
    i = [lead_names.get(c) for c in codes[:nleads]].index("II")
    data = np.frombuffer(ecg, dtype="<i2", count=n * nleads, offset=ecg_off).reshape(n, nleads)
    x = data[:, i].astype(np.float64) * resolution_nv[i] * 1e-6
    ann = _path(root, "ishne", "ECG_P28.01.ann").read_bytes()
    start = 522 + struct.unpack("<i", ann[10:14])[0]
    sample = struct.unpack("<I", ann[start : start + 4])[0]
    beats, labels = [], []
    for k in range(start + 4, len(ann) - 3, 4):
        sample += struct.unpack("<H", ann[k + 2 : k + 4])[0]
        label = chr(ann[k])
        if label == "!":
            break  # a gap: later annotations cannot be placed
        beats.append(sample)
        labels.append({"N": "N", "V": "V", "S": "S"}.get(label, ""))
    del var_size
    return iter([RealRecord("ishne/ECG_P28.01", "ishne", fs, "II", x, _use("ishne", ""), "sinus rhythm",
                            np.asarray(beats, dtype=np.int64), tuple(labels),
                            "annotations labelled X (artefact) have no class and are left out of R-peak scoring")])


def _cpsc(root: Path) -> Iterator[RealRecord]:
    for i in range(1, 11):
        record = f"A{i:04d}"
        hea = _path(root, "cpsc2018", f"{record}.hea").read_text()
        dx = next((ln.split(":", 1)[1].strip() for ln in hea.splitlines() if ln.startswith("# Dx")), "")
        rhythm = ", ".join(SNOMED.get(c, c) for c in dx.split(","))
        for lead in ("II", "V1"):
            rec = wfdb_lead(root, "cpsc2018", record, lead, annotations=False, rhythm=rhythm)
            yield RealRecord(f"cpsc2018/{record}:{lead}", rec.source, rec.fs, lead, rec.signal_mv, rec.use, rhythm)


def _aladin(root: Path) -> Iterator[RealRecord]:
    for record in ("A01986", "A08391", "STANFORD1", "STANFORD2", "STANFORD3"):
        episodes = json.loads(_path(root, "aladin", f"{record}.episodes.json").read_text())["episodes"]
        rhythm = " -> ".join(f"{e['rhythm_name']} ({e['onset']}-{e['offset']})" for e in episodes)
        if record.startswith("STANFORD"):
            # The header states mV with gains that give R waves of hundreds of mV: the values are uV.
            yield wfdb_lead(root, "aladin", record, "II", annotations=False, rhythm=rhythm, scale=1e-3,
                        notes="header says mV but its values are uV-sized (R waves of ~500 'mV'): read as uV")
        else:
            yield wfdb_lead(root, "aladin", record, "ECG", annotations=False, rhythm=rhythm)


def _csv_column(path: Path, column: int, skip: int = 0, delimiter: str = ",") -> np.ndarray:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.reader(handle, delimiter=delimiter) if r and not r[0].startswith("#")]
    try:
        return np.asarray([float(r[column]) for r in rows[skip:]], dtype=np.float64)
    except (ValueError, IndexError) as exc:
        raise RecordError(f"{path}: column {column}: {exc}") from None


def _simple(key: str, name: str, fs: float, lead: str, x: np.ndarray, rhythm: str = "", notes: str = "",
            peaks: np.ndarray | None = None) -> RealRecord:
    return RealRecord(f"{key}/{name}", key, fs, lead, x, _use(key, name), rhythm, notes=notes, shipped_peaks=peaks)


def _bitalino(path: Path, column: int, bits: int) -> np.ndarray:
    adc = _csv_column(path, column, delimiter="\t" if "pyhrv" in str(path) else ",")
    return (adc / 2**bits - 0.5) * BITALINO_MV_PER_FULL_SCALE


def _dicom_lead(path: Path) -> tuple[np.ndarray, float]:
    import pydicom

    ds = pydicom.dcmread(path)
    wave = ds.WaveformSequence[0]
    channels = [c.ChannelSourceSequence[0].CodeMeaning for c in wave.ChannelDefinitionSequence]
    i = next((k for k, c in enumerate(channels) if c.removeprefix("Lead ").split(" ")[0] == "II"), None)
    if i is None:
        raise RecordError(f"{path}: no lead II; channels: {channels}")
    unit = wave.ChannelDefinitionSequence[i].ChannelSensitivityUnitsSequence[0].CodeValue
    if unit != "uV":
        raise RecordError(f"{path}: lead II sensitivity in {unit!r}, expected uV")
    return np.asarray(ds.waveform_array(0)[:, i], dtype=np.float64) * 1e-3, float(wave.SamplingFrequency)


class _FloatList(pickle.Unpickler):
    """Unpickles only plain lists of numbers: a package's pickle must not run code."""

    def find_class(self, module: str, name: str) -> type:
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a data pickle")


def _others(root: Path) -> Iterator[RealRecord]:
    yield _simple("neurokit2", "good_4000", 4000.0, "unknown",
                  _csv_column(_path(root, "neurokit2", "good_4000.csv"), 1), "clean ECG (neurokit2 test data)",
                  "unit not stated; values are mV-sized")
    yield _simple("neurokit2", "bad_500", 500.0, "unknown", _csv_column(_path(root, "neurokit2", "bad_500.csv"), 1),
                  "noisy ECG (neurokit2 test data)", "unit not stated; values are mV-sized")
    table = _path(root, "ecg_plot", "ecg.csv")
    yield _simple("ecg_plot", "ecg", 500.0, "II", _csv_column(table, 1, skip=1), "resting 12-lead ECG",
                  "mV (values are multiples of a 4.88 uV step)")
    yield _simple("pyhrv", "SampleECG", 1000.0, "unknown", _bitalino(_path(root, "pyhrv", "SampleECG.txt"), 5, 10),
                  "BITalino ECG", "raw 10-bit ADC converted with BITalino's ECG transfer function")
    yield _simple("biosppy", "ecg", 1000.0, "unknown", _bitalino(_path(root, "biosppy", "ecg.txt"), 0, 12),
                  "BITalino ECG", "raw 12-bit ADC converted with BITalino's ECG transfer function")
    yield _bioread(root)
    signal = _path(root, "pecg", "signal.txt")
    yield _simple("pecg", "signal", 200.0, "unknown", _csv_column(signal, 0), "Holter-like ECG, irregular rhythm",
                  "rate 200 Hz from the package's own run.txt; unit not stated (mV-sized)",
                  peaks=_csv_column(_path(root, "pecg", "peaks.txt"), 0).astype(np.int64))
    yield wfdb_lead(root, "pecg", "A00001_ecg_epltd", "V5", annotations=False, rhythm="CinC-2017 A00001")
    for key, name in (("pydicom", "waveform_ecg.dcm"), ("ecgprocess", "example-DICOM1.dcm"),
                      ("ecgprocess", "example-DICOM2.dcm")):
        x, fs = _dicom_lead(_path(root, key, name))
        yield _simple(key, name.removesuffix(".dcm"), fs, "II", x, "resting 12-lead ECG", "DICOM uV -> mV")
    with _path(root, "pysiology", "convertedECG.pkl").open("rb") as handle:
        values = _FloatList(handle).load()
    yield _simple("pysiology", "convertedECG", 1000.0, "unknown", np.asarray(values, dtype=np.float64), "ECG",
                  "unit not stated; values are mV-sized")
    for name in ("clean_ecg", "noisy_ecg"):
        yield _simple("noise_detector", name, 500.0, "unknown",
                      _csv_column(_path(root, "noise_detector", f"{name}.csv"), 0), name.replace("_", " "),
                      "unit not stated; rate 500 Hz from the package's code")


def _bioread(root: Path) -> RealRecord:
    import bioread

    data = bioread.read_file(str(_path(root, "bioread", "physio-4.4.0.acq")))
    channel = next((c for c in data.channels if c.name.upper().startswith(("EKG", "ECG"))), None)
    if channel is None or channel.units != "mV":
        raise RecordError("bioread/physio-4.4.0.acq: no ECG channel in mV")
    return _simple("bioread", "physio-4.4.0", float(channel.samples_per_second), "unknown",
                   np.asarray(channel.data, dtype=np.float64), "Biopac ECG (ERS100C)", "mV as stated")


LOADERS: dict[str, Callable[[Path], Iterator[RealRecord]]] = {
    "mitdb": _mitdb, "ishne": _ishne, "cpsc2018": _cpsc, "aladin": _aladin, "others": _others,
}


def load_all(dest: Path = DEFAULT_DEST) -> list[RealRecord]:
    """Every fetched record (raises :class:`RecordError` naming the first missing file)."""
    root = ecg_dir(dest)
    if not root.is_dir():
        raise RecordError(f"{root}: no real ECG fetched; run `python -m cloud.real_ecg.fetch` first")
    return [rec for loader in LOADERS.values() for rec in loader(root)]


def available(dest: Path = DEFAULT_DEST) -> bool:
    return (ecg_dir(dest) / "manifest.json").is_file()
