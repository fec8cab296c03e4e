"""``iomt train|export|eval imaging``: the segmentation model's steps (called by :mod:`cloud.pipeline`)."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cloud.imaging.data import ImagingDataset, cached
from cloud.imaging.profiles import profile
from cloud.train import overridden

log = logging.getLogger(__name__)
NAME = "imaging"


def dataset(profile_kind: str, workdir: Path, rebuild: bool) -> ImagingDataset:
    data_profile, _ = profile(profile_kind)
    ds = cached(data_profile, workdir / NAME, rebuild)
    log.info("imaging dataset: %s", json.dumps(ds.card["class_counts"]))
    return ds


def train(variants: Sequence[str], *, workdir: Path, profile_kind: str, rebuild_data: bool,
          epochs: int | None, learning_rate: float | None = None, resume: bool = False,
          augment: bool = False, detection_loss: bool = False) -> list[dict[str, Any]]:
    from cloud.imaging.train import train as train_variant

    ds = dataset(profile_kind, workdir, rebuild_data)
    settings = overridden(profile(profile_kind)[1], epochs, learning_rate)
    return [train_variant(v, ds, workdir, settings, resume=resume, augment=augment,
                          detection_loss=detection_loss) for v in variants]


def export(*, workdir: Path, out: Path, version: str, variant: str, profile_kind: str,
           rebuild_data: bool) -> dict[str, Any]:
    from cloud.imaging.export import export as export_model

    ds = dataset(profile_kind, workdir, rebuild_data)
    return export_model(ds, workdir, out, version=version, variant=variant)


def evaluate(*, workdir: Path, models_dir: Path, report: Path, profile_kind: str, rebuild_data: bool,
             real_images: Sequence[Path] = ()) -> dict[str, Any]:
    from cloud.imaging.report import evaluate as evaluate_model

    ds = dataset(profile_kind, workdir, rebuild_data)
    return evaluate_model(ds, workdir, models_dir, report, real_images)
