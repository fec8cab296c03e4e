"""Dataset mode: labelled recordings written straight to disk, thousands of times faster than real
time, for the training pipeline.

Subject ``i`` of a seed is generated from ``(seed, kind, i)`` alone, so the same seed gives the same
signals and adding subjects never changes the existing ones. Keep every window of a subject in one
split (:func:`split_subjects`).

On disk (:func:`write_dataset`): ``index.json`` lists the recordings (file, subject, kind, rates,
persona, samples per stream) and each recording is one ``.npz`` holding ``signal_<stream>`` arrays
(float32, ``(n, channels)``) and the truth as four arrays ``truth_t_s``, ``truth_t_end_s``,
``truth_label``, ``truth_kind``.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from firmware_sim.deterioration import CoursePlan
from firmware_sim.ecg import EcgStream
from firmware_sim.emotion import RATES as EMOTION_RATES
from firmware_sim.emotion import EmotionStream
from firmware_sim.motion import MotionGenerator
from firmware_sim.motion import random_mount as random_mount_matrix
from firmware_sim.persona import Persona, make_persona
from firmware_sim.rates import ENRICHED, EventRates
from firmware_sim.rates import rates as rate_profile
from firmware_sim.vitals import RED_FLAGS, VitalsGenerator

KINDS = ("ecg", "motion", "emotion", "vitals")
DEFAULT_RATE = {"ecg": 250.0, "motion": 50.0, "emotion": EMOTION_RATES["ecg"], "vitals": 1.0}
INDEX = "index.json"


@dataclass(frozen=True)
class Annotation:
    t_s: float  # start (for a beat: the R-peak time) in seconds from the recording start
    t_end_s: float  # end (== t_s for point events such as beats)
    label: str  # beats N/S/V/F/Q; activity or fall name; emotion baseline/stress/amusement; AF/VT; course
    kind: str  # "beat" | "activity" | "fall" | "impact" | "emotion" | "rhythm" | "deterioration"


@dataclass(frozen=True)
class Recording:
    subject: str  # e.g. "s0007"; all windows of a subject stay in one split
    kind: str  # "ecg" | "motion" | "emotion" | "vitals"
    rates: dict[str, float]  # stream -> Hz
    # stream -> (n_samples, channels) float32; acc g, gyro deg/s, ecg mV, eda uS; vitals and vitals_truth
    # (n, 8) in iomt.wire.vitals.FIELDS order
    signals: dict[str, np.ndarray]
    truth: tuple[Annotation, ...]
    persona: dict[str, object]  # age, resting_hr, condition, ...


def subject_rng(seed: int, kind: str, index: int) -> np.random.Generator:
    """The generator of one subject's signals; independent of how many subjects are generated."""
    return np.random.default_rng([seed, zlib.crc32(kind.encode()), index])


def generate(
    kind: str, subjects: int, seconds: float, seed: int, *, rate_hz: float | None = None,
    random_mount: bool = False, vary: Callable[[Persona, np.random.Generator], Persona] | None = None,
    rates: str = "enriched",
) -> Iterator[Recording]:
    """``subjects`` recordings of ``seconds`` each. ``rate_hz`` sets the ECG rate (ecg, emotion), the
    motion sensors' rate (motion) or the readings' rate (vitals); ``random_mount`` turns each motion
    subject's sensor by its own random 3-D rotation (recorded in the persona as ``mount``). ``vary``
    (ECG only) changes each persona before its signal is rendered, with a generator of its own (the
    subject's signal generator is left untouched). ``rates`` is the event-rate profile
    (:mod:`firmware_sim.rates`): training recordings are ``enriched`` (dense in falls, arrhythmia
    episodes and deteriorations); ``realistic`` gives a ward's rates."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if subjects < 1 or seconds <= 0:
        raise ValueError("subjects must be >= 1 and seconds > 0")
    rate = float(rate_hz or DEFAULT_RATE[kind])
    profile = rate_profile(rates)
    for index in range(subjects):
        rng = subject_rng(seed, kind, index)
        if kind == "ecg":
            persona = make_persona(seed, index)
            if vary is not None:
                persona = vary(persona, np.random.default_rng([seed, zlib.crc32(b"vary"), index]))
            yield _ecg(profile.apply(persona), rng, seconds, rate)
        elif kind == "motion":
            yield _motion(make_persona(seed, index), rng, seconds, rate, random_mount, profile)
        elif kind == "vitals":
            yield _vitals(make_persona(seed, index), rng, seconds, rate, profile,
                          np.random.default_rng([seed, zlib.crc32(b"course-plan"), index]))
        else:
            yield _emotion(make_persona(seed, index, condition="normal"), rng, seconds, rate)


def _ecg(persona: Persona, rng: np.random.Generator, seconds: float, fs: float) -> Recording:
    stream = EcgStream(persona, fs, rng)
    signal = stream.render(round(seconds * fs))
    truth = [Annotation(t, t, label, "beat") for t, label in stream.take_beats(seconds)]
    truth += [Annotation(e.start, min(e.end, seconds), e.label, "rhythm") for e in stream.take_episodes()
              if e.start < seconds]
    return Recording(persona.subject, "ecg", {"ecg": fs}, {"ecg": signal.astype(np.float32)[:, None]},
                     _sorted(truth), persona.as_dict())


def _motion(persona: Persona, rng: np.random.Generator, seconds: float, fs: float,
            random_mount: bool = False, profile: EventRates = ENRICHED) -> Recording:
    mount = random_mount_matrix(np.random.default_rng(rng.integers(0, 2**63 - 1))) if random_mount else None
    gen = MotionGenerator(persona, fs, rng, mount=mount, fall_rate_per_h=profile.fall_rate(persona))
    n = round(seconds * fs)
    acc, gyro, truth = [], [], []
    have = 0
    while have < n:
        block = gen.next_block()
        t_block = have / fs
        truth += [Annotation(round(t_block + a, 6), round(min(t_block + b, seconds), 6), label, kind)
                  for a, b, label, kind in block.events if t_block + a < seconds]
        acc.append(block.acc)
        gyro.append(block.gyro)
        have += len(block.acc)
    signals = {"acc": np.concatenate(acc)[:n].astype(np.float32), "gyro": np.concatenate(gyro)[:n].astype(np.float32)}
    info = persona.as_dict()
    if mount is not None:
        info["mount"] = np.round(mount, 6).tolist()
    return Recording(persona.subject, "motion", {"acc": fs, "gyro": fs}, signals, _sorted(truth), info)


def _vitals(persona: Persona, rng: np.random.Generator, seconds: float, fs: float, profile: EventRates,
            plan_rng: np.random.Generator) -> Recording:
    """Readings at ``fs`` (``vitals``: measured; ``vitals_truth``: true values), courses as truth
    (kind ``deterioration``, label the course, from onset to resolution)."""
    plan = CoursePlan(profile, plan_rng)
    # Enriched recordings: one subject in five has a stable baseline with one red-range parameter, so
    # that NEWS2's "single red score" response is not left to the few minutes a course passes through it.
    flags = list(RED_FLAGS)
    red = flags[int(plan_rng.integers(len(flags)))] if profile.name == "enriched" and plan_rng.random() < 0.2 else None
    gen = VitalsGenerator(persona, rng, plan, period_s=1.0 / fs, red_flag=red)
    block = gen.render(np.arange(round(seconds * fs)) / fs)
    truth = [Annotation(c.start_s, min(c.end_s, seconds), c.kind, "deterioration") for c in plan.courses
             if c.start_s < seconds]
    signals = {"vitals": block.measured.astype(np.float32), "vitals_truth": block.truth.astype(np.float32)}
    return Recording(persona.subject, "vitals", {"vitals": fs, "vitals_truth": fs}, signals, _sorted(truth),
                     persona.as_dict())


def _emotion(persona: Persona, rng: np.random.Generator, seconds: float, ecg_hz: float) -> Recording:
    stream = EmotionStream(persona, rng, cycle_s=seconds, ecg_hz=ecg_hz)
    signals = stream.render(seconds)
    truth = [Annotation(a, min(b, seconds), label, "emotion") for a, b, label in stream.episodes if a < seconds]
    truth += [Annotation(t, t, label, "beat") for t, label in stream.take_beats() if t < seconds]
    rates = {**EMOTION_RATES, "ecg": ecg_hz}
    return Recording(persona.subject, "emotion", rates, signals, _sorted(truth), persona.as_dict())


def _sorted(truth: list[Annotation]) -> tuple[Annotation, ...]:
    return tuple(sorted(truth, key=lambda a: (a.t_s, a.kind)))


def split_subjects(
    subjects: Sequence[str], seed: int, fractions: Sequence[float] = (0.7, 0.15, 0.15)
) -> dict[str, list[str]]:
    """Split subjects (never windows) into train/val/test, deterministically from ``seed``.

    Every split gets at least one subject when there are at least three."""
    if len(fractions) != 3 or any(f < 0 for f in fractions) or not np.isclose(sum(fractions), 1.0):
        raise ValueError(f"fractions must be three non-negative numbers summing to 1, got {tuple(fractions)}")
    unique = sorted(set(subjects))
    order = [unique[i] for i in np.random.default_rng(seed).permutation(len(unique))]
    n = len(order)
    n_val = round(n * fractions[1])
    n_test = round(n * fractions[2])
    if n >= 3:
        n_val = max(n_val, 1) if fractions[1] > 0 else 0
        n_test = max(n_test, 1) if fractions[2] > 0 else 0
    n_train = n - n_val - n_test
    return {
        "train": sorted(order[:n_train]),
        "val": sorted(order[n_train:n_train + n_val]),
        "test": sorted(order[n_train + n_val:]),
    }


def write_dataset(directory: Path, recordings: Iterable[Recording]) -> Path:
    """Write each recording as ``<kind>_<subject>.npz`` plus ``index.json``; returns the index path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    entries = []
    for rec in recordings:
        name = f"{rec.kind}_{rec.subject}.npz"
        arrays: dict[str, np.ndarray] = {f"signal_{k}": np.asarray(v, dtype=np.float32) for k, v in rec.signals.items()}
        arrays["truth_t_s"] = np.array([a.t_s for a in rec.truth], dtype=np.float64)
        arrays["truth_t_end_s"] = np.array([a.t_end_s for a in rec.truth], dtype=np.float64)
        arrays["truth_label"] = np.array([a.label for a in rec.truth], dtype=str).astype("U32")
        arrays["truth_kind"] = np.array([a.kind for a in rec.truth], dtype=str).astype("U16")
        np.savez_compressed(directory / name, **arrays)  # type: ignore[arg-type]
        entries.append({
            "file": name, "subject": rec.subject, "kind": rec.kind, "rates": rec.rates,
            "samples": {k: int(v.shape[0]) for k, v in rec.signals.items()}, "persona": rec.persona,
        })
    index = directory / INDEX
    index.write_text(json.dumps({"version": 1, "recordings": entries}, indent=1))
    return index


def read_dataset(directory: Path) -> Iterator[Recording]:
    """Read back what :func:`write_dataset` wrote, in the same order."""
    directory = Path(directory)
    index_path = directory / INDEX
    try:
        index = json.loads(index_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{index_path}: not a dataset index ({exc})") from None
    for entry in index["recordings"]:
        with np.load(directory / entry["file"], allow_pickle=False) as data:
            signals = {key[len("signal_"):]: data[key] for key in data.files if key.startswith("signal_")}
            truth = tuple(
                Annotation(float(t), float(e), str(lab), str(kind))
                for t, e, lab, kind in zip(data["truth_t_s"], data["truth_t_end_s"], data["truth_label"],
                                           data["truth_kind"], strict=True)
            )
        yield Recording(entry["subject"], entry["kind"], {k: float(v) for k, v in entry["rates"].items()}, signals,
                        truth, entry["persona"])
