"""Evaluating a release again where its training logs are not (a fresh clone) keeps the record of how it
was trained from the earlier report of the same version, says where it comes from, and claims nothing
when there is none."""

from __future__ import annotations

import json
from pathlib import Path

from cloud.imaging.report import _earlier_training
from cloud.imaging.report_text import _training

RUNS = {"edge": {"backend": "tensorflow", "epochs_run": 12, "resumed": True}}


def _report(directory: Path, **fields: object) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "metrics.json").write_text(json.dumps({"model": "imaging", "version": "1.3.0", **fields}))


def test_the_earlier_report_of_the_same_version_keeps_its_training_record(tmp_path: Path) -> None:
    _report(tmp_path, training=RUNS)
    logs, source = _earlier_training(tmp_path, "1.3.0")
    assert logs == RUNS and source == "the report of 1.3.0 evaluated earlier with its training logs"
    _report(tmp_path, training=RUNS, training_source=source)  # evaluated again: the source stays the first
    assert _earlier_training(tmp_path, "1.3.0") == (RUNS, source)
    text = "\n".join(_training({"training": logs, "training_source": source}, "edge"))
    assert source in text and '"epochs_run": 12' in text and "tensorflow backend" in text


def test_another_version_a_broken_or_missing_report_gives_no_record_and_no_claim(tmp_path: Path) -> None:
    assert _earlier_training(tmp_path, "1.3.0") == ({}, "none")
    _report(tmp_path, training=RUNS)
    assert _earlier_training(tmp_path, "1.4.0") == ({}, "none")
    (tmp_path / "metrics.json").write_text("{not json")
    assert _earlier_training(tmp_path, "1.3.0") == ({}, "none")
    text = "\n".join(_training({"training": {}}, "edge"))
    assert "not shown" in text and "backend" not in text and "trained for this version" not in text
