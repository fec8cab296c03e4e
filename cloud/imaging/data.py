"""The imaging data set: simulated devices (each with its own scanner settings) imaging phantoms, split
by device so no scanner of the test split was seen in training; cached, hashed and carded.

Images are kept at their own resolution with their masks and pixel spacing (the metrics are computed
there, in pixels and millimetres); the model's inputs and targets are derived with the shared
preprocessing (:mod:`models.preprocessing.imaging`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from firmware_sim.imaging.visibility import MIN_CNR, MIN_RADIUS_MODEL_PX
from models.preprocessing import imaging as prep

SPLITS = ("train", "val", "test")
SOURCE = "firmware_sim.imaging"
#: Data sets of this many devices or more are simulated by a pool of worker processes.
PARALLEL_FROM_DEVICES = 64
GENERATION_WORKERS = 2
#: An image meant to show a lesion is drawn again at most this many times (each already retries its
#: lesions' visibility, see firmware_sim.imaging.render_phantom).
LESION_RETRIES = 4


@dataclass(frozen=True, slots=True)
class ImagingProfile:
    """How many simulated devices and images; a release run and a CI smoke use the same code."""

    devices: int
    images_per_device: int
    size: int = 128
    lesion_share: float = 0.6
    seed: int = 7
    fractions: tuple[float, float, float] = (0.6, 0.2, 0.2)
    #: Devices simulated after the ``devices`` that are split, all of them training devices: more scanners
    #: to learn from while the validation and test devices (and so every figure's test set) stay the same.
    extra_train_devices: int = 0


@dataclass
class ImagingDataset:
    """Per split: images ``(n, size, size)`` uint8, masks bool, spacing ``(n, 2)`` mm, modality and device
    per image, and each image's lesion and artefact truth (JSON)."""

    images: dict[str, np.ndarray]
    masks: dict[str, np.ndarray]
    spacing: dict[str, np.ndarray]
    modality: dict[str, np.ndarray]
    devices: dict[str, list[str]]
    truth: dict[str, list[dict[str, Any]]]
    sha256: str
    card: dict[str, Any] = field(default_factory=dict)
    name: str = "imaging"
    classes: tuple[str, ...] = ("background", "lesion")

    def inputs(self, split: str) -> np.ndarray:
        """Model inputs ``(n, INPUT_SIZE, INPUT_SIZE, 1)`` float32 of a split."""
        imgs = self.images[split]
        if len(imgs) == 0:
            return np.zeros((0, prep.INPUT_SIZE, prep.INPUT_SIZE, 1), np.float32)
        return np.stack([prep.model_input(im)[0] for im in imgs])

    def targets(self, split: str) -> np.ndarray:
        """Model targets ``(n, INPUT_SIZE, INPUT_SIZE)`` uint8 (1 = lesion) of a split."""
        masks = self.masks[split]
        if len(masks) == 0:
            return np.zeros((0, prep.INPUT_SIZE, prep.INPUT_SIZE), np.uint8)
        return np.stack([prep.model_target(m) for m in masks])


def split_devices(devices: list[str], seed: int, fractions: tuple[float, float, float]) -> dict[str, list[str]]:
    from cloud.data import split_subjects

    return split_subjects(devices, seed, fractions)


def build(profile: ImagingProfile) -> ImagingDataset:
    """Simulate ``profile.devices`` devices of alternating modality, ``images_per_device`` images each, split
    by device, then ``profile.extra_train_devices`` more for training only."""
    total = profile.devices + profile.extra_train_devices
    names = [f"img-{i:04d}" for i in range(total)]
    splits = split_devices(names[:profile.devices], profile.seed, profile.fractions)
    splits["train"] = splits["train"] + names[profile.devices:]
    jobs = [(profile, i) for i in range(total)]
    if total >= PARALLEL_FROM_DEVICES:  # each device has its own seed: same images either way
        import multiprocessing

        with multiprocessing.get_context("spawn").Pool(GENERATION_WORKERS) as pool:
            drawn = pool.starmap(_device_phantoms, jobs, chunksize=8)
    else:
        drawn = [_device_phantoms(*job) for job in jobs]
    per_device: dict[str, list[Any]] = dict(zip(names, drawn, strict=True))
    out: dict[str, dict[str, Any]] = {k: {} for k in ("images", "masks", "spacing", "modality", "devices", "truth")}
    n = profile.size
    for s in SPLITS:
        ps = [(d, p) for d in splits[s] for p in per_device[d]]
        out["images"][s] = np.stack([p.image for _, p in ps]) if ps else np.zeros((0, n, n), np.uint8)
        out["masks"][s] = np.stack([p.mask for _, p in ps]) if ps else np.zeros((0, n, n), bool)
        out["spacing"][s] = np.asarray([p.spacing_mm for _, p in ps], dtype=np.float64).reshape(-1, 2)
        out["modality"][s] = np.asarray([p.modality for _, p in ps], dtype="<U10")
        out["devices"][s] = [d for d, _ in ps]
        out["truth"][s] = [{"lesions": [x.as_dict() for x in p.lesions], "artefacts": list(p.artefacts)} for _, p in ps]
    digest = _hash(out, profile)
    card = _card(profile, splits, out, digest)
    return ImagingDataset(out["images"], out["masks"], out["spacing"], out["modality"], out["devices"], out["truth"],
                          digest, card)


def _device_phantoms(profile: ImagingProfile, i: int) -> list[Any]:
    """The phantoms of device ``i``: its scanner (alternating modality), then its images."""
    from firmware_sim.imaging import MODALITIES, draw_scanner, render_phantom

    rng = np.random.default_rng([profile.seed, i, 0x1A6E])
    scanner = draw_scanner(rng, MODALITIES[i % len(MODALITIES)])
    phantoms = []
    for _ in range(profile.images_per_device):
        want = bool(rng.random() < profile.lesion_share)
        p = render_phantom(rng, scanner, profile.size, want)
        for _ in range(LESION_RETRIES):  # rarely no place (or no visible lesion) was found: draw again
            if p.has_lesion or not want:
                break
            p = render_phantom(rng, scanner, profile.size, want)
        phantoms.append(p)  # a scanner too noisy to show any lesion gives a lesion-free image
    return phantoms


def _hash(out: dict[str, dict[str, Any]], profile: ImagingProfile) -> str:
    h = hashlib.sha256(json.dumps({"profile": asdict(profile), "preprocessing": prep.INPUT_VERSION},
                                  sort_keys=True).encode())
    for s in SPLITS:
        for key in ("images", "masks", "spacing"):
            h.update(np.ascontiguousarray(out[key][s]).tobytes())
    return h.hexdigest()


def class_counts(masks: np.ndarray) -> dict[str, int]:
    """Images without a lesion (``background``) and with one (``lesion``)."""
    has = np.asarray(masks).reshape(len(masks), -1).any(axis=1)
    return {"background": int((~has).sum()), "lesion": int(has.sum())}


def _card(profile: ImagingProfile, splits: dict[str, list[str]], out: dict[str, dict[str, Any]],
          digest: str) -> dict[str, Any]:
    lesions = {s: [x for t in out["truth"][s] for x in t["lesions"]] for s in SPLITS}
    return {
        "dataset": "imaging (simulated phantoms)",
        "source": SOURCE,
        "generation": asdict(profile) | {"fractions": list(profile.fractions)},
        "preprocessing": {"module": "models.preprocessing.imaging", "version": prep.INPUT_VERSION},
        "classes": ["background", "lesion"],
        "class_counts_meaning": "images without a lesion (background) and with at least one (lesion)",
        "split_by": "device (scanner settings)",
        "subjects": splits,
        "windows": {s: len(out["images"][s]) for s in SPLITS},
        "class_counts": {s: class_counts(out["masks"][s]) for s in SPLITS},
        "modalities": {s: {m: int((out["modality"][s] == m).sum()) for m in ("ultrasound", "xray")} for s in SPLITS},
        "lesions": {s: len(v) for s, v in lesions.items()},
        "lesion_shapes": {s: _count(v, "shape") for s, v in lesions.items()},
        "lesion_appearances": {s: _count(v, "appearance") for s, v in lesions.items()},
        "lesion_radius_px": {s: _quantiles([x["radius_px"] for x in v]) for s, v in lesions.items()},
        "artefacts": {s: _count([{"a": a} for t in out["truth"][s] for a in t["artefacts"]], "a") for s in SPLITS},
        "spacing_mm": {s: _quantiles(out["spacing"][s][:, 0].tolist()) for s in SPLITS},
        "visibility": {
            "rule": "every lesion drawn has a contrast-to-noise ratio at its own scale >= min_cnr and an equivalent"
                    " radius >= min_radius_model_px in the model's input grid (firmware_sim.imaging.visibility);"
                    " an image with a lesion below either is drawn again",
            "min_cnr": MIN_CNR, "min_radius_model_px": MIN_RADIUS_MODEL_PX,
            "lesion_cnr": {s: _quantiles([x["cnr"] for x in v]) for s, v in lesions.items()},
            "lesion_cnr_by_appearance": {
                s: {a: _quantiles([x["cnr"] for x in v if x["appearance"] == a])
                    for a in sorted({x["appearance"] for x in v})} for s, v in lesions.items()},
        },
        "sha256": digest,
    }


def _count(items: list[dict[str, Any]], key: str) -> dict[str, int]:
    values = [str(x[key]) for x in items]
    return {v: values.count(v) for v in sorted(set(values))}


def _quantiles(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    q = np.percentile(values, [0, 50, 100])
    return {"min": round(float(q[0]), 3), "median": round(float(q[1]), 3), "max": round(float(q[2]), 3)}


def save(ds: ImagingDataset, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    for s in SPLITS:
        arrays |= {f"images_{s}": ds.images[s], f"masks_{s}": ds.masks[s], f"spacing_{s}": ds.spacing[s],
                   f"modality_{s}": ds.modality[s]}
    np.savez_compressed(directory / "data.npz", allow_pickle=False, **arrays)
    meta = {"devices": ds.devices, "truth": ds.truth, "sha256": ds.sha256}
    (directory / "truth.json").write_text(json.dumps(meta) + "\n")
    (directory / "datacard.json").write_text(json.dumps(ds.card, indent=2) + "\n")


def load(directory: Path) -> ImagingDataset:
    card = json.loads((directory / "datacard.json").read_text())
    meta = json.loads((directory / "truth.json").read_text())
    with np.load(directory / "data.npz") as z:
        parts = {k: {s: z[f"{k}_{s}"] for s in SPLITS} for k in ("images", "masks", "spacing", "modality")}
    return ImagingDataset(parts["images"], parts["masks"], parts["spacing"], parts["modality"], meta["devices"],
                          meta["truth"], meta["sha256"], card)


def cached(profile: ImagingProfile, directory: Path, rebuild: bool) -> ImagingDataset:
    """The cached data set when it was built with ``profile``, else a new one (saved)."""
    if not rebuild and (directory / "data.npz").is_file():
        ds = load(directory)
        if ds.card.get("generation") == asdict(profile) | {"fractions": list(profile.fractions)}:
            return ds
    ds = build(profile)
    save(ds, directory)
    return ds
