"""The edge's model registry refuses a model whose metadata is malformed, of another schema, or built for
another preprocessing version, says why, and keeps the model it was running (real LiteRT, real files)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from edge.registry import ModelRegistry
from models.runtime import RELEASED_DIR


def _drop_sha(meta: dict[str, Any]) -> None:
    del meta["sha256"]


def _schema_2(meta: dict[str, Any]) -> None:
    meta["schema"] = 2


def _old_preprocessing(meta: dict[str, Any]) -> None:
    meta["preprocessing"]["version"] = "0.9.0"


def _bad_output(meta: dict[str, Any]) -> None:
    meta["output"]["dtype"] = "int3"


@pytest.fixture
def models_dir(tmp_path: Path) -> Path:
    shutil.copytree(RELEASED_DIR / "fall", tmp_path / "fall", ignore=shutil.ignore_patterns("*.npz"))
    return tmp_path


def _update(models_dir: Path, edit: Callable[[dict[str, Any]], None], version: str) -> None:
    path = models_dir / "fall" / "fall.json"
    meta = json.loads(path.read_text())
    meta["version"] = version
    edit(meta)
    path.write_text(json.dumps(meta))


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (_drop_sha, "sha256: missing"),
        (_schema_2, "schema version 2 is newer than this release reads (1)"),
        (_old_preprocessing, "model fall 2.0.0 was built for models.preprocessing.motion 0.9.0 but this edge runs"
                             " models.preprocessing.motion input version 2.x: re-export the model"),
        (_bad_output, "output.dtype"),
    ],
)
def test_an_update_with_bad_metadata_is_refused_and_the_old_model_keeps_running(
    models_dir: Path, edit: Callable[[dict[str, Any]], None], reason: str
) -> None:
    released = json.loads((models_dir / "fall" / "fall.json").read_text())["version"]
    registry = ModelRegistry(models_dir, ("fall",))
    assert [c.new_version for c in registry.poll()] == [released]
    running = registry.current("fall")
    _update(models_dir, edit, "2.0.0")
    [change] = registry.poll()
    assert change.new_version is None and change.old_version == released
    assert change.error is not None and reason in change.error
    assert registry.errors() == {"fall": change.error}
    assert registry.current("fall") is running
    assert registry.poll() == []  # not retried until the files change again


def test_a_first_load_with_mismatched_preprocessing_runs_no_model(models_dir: Path) -> None:
    _update(models_dir, _old_preprocessing, "1.0.0")
    registry = ModelRegistry(models_dir, ("fall",))
    [change] = registry.poll()
    assert change.old_version is None and change.new_version is None
    assert change.error is not None and "was built for models.preprocessing.motion 0.9.0" in change.error
    assert registry.current("fall") is None and registry.versions() == {}
