"""Models in use on this node: loaded from a directory, verified, and hot-swapped.

A new version (a changed ``<name>.json``/``<name>.tflite`` pair) is loaded and verified (sha256,
input/output spec, LiteRT can allocate it) *beside* the running one; only then is the reference
swapped, which is atomic for the inference loop (it takes one reference per batch). A corrupt or
mismatched file is refused with the reason, and the old model keeps running.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from models.runtime import ModelError, ModelRunner, released_paths

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelChange:
    name: str
    old_version: str | None
    new_version: str | None
    error: str | None = None


@dataclass
class _Slot:
    runner: ModelRunner | None = None
    stamp: tuple[float, float, int, int] | None = None
    refused_stamp: tuple[float, float, int, int] | None = None
    last_error: str | None = None


@dataclass
class ModelRegistry:
    models_dir: Path
    names: tuple[str, ...]
    num_threads: int = 1
    _slots: dict[str, _Slot] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.names = tuple(str(name) for name in self.names)  # plain names (not enum members) in logs and JSON

    def current(self, name: str) -> ModelRunner | None:
        slot = self._slots.get(name)
        return slot.runner if slot is not None else None

    def versions(self) -> dict[str, str]:
        return {name: slot.runner.version for name, slot in self._slots.items() if slot.runner is not None}

    def errors(self) -> dict[str, str]:
        return {name: slot.last_error for name, slot in self._slots.items() if slot.last_error}

    def _stamp(self, name: str) -> tuple[float, float, int, int] | None:
        tflite, meta = released_paths(name, self.models_dir)
        try:
            a, b = tflite.stat(), meta.stat()
        except FileNotFoundError:
            return None
        return (a.st_mtime, b.st_mtime, a.st_size, b.st_size)

    def poll(self) -> list[ModelChange]:
        """Load models whose files appeared or changed; return what changed (or was refused)."""
        changes: list[ModelChange] = []
        for name in self.names:
            slot = self._slots.setdefault(name, _Slot())
            stamp = self._stamp(name)
            if stamp is None or stamp in (slot.stamp, slot.refused_stamp):
                continue
            tflite, meta = released_paths(name, self.models_dir)
            try:
                runner = ModelRunner(tflite, meta, num_threads=self.num_threads)
            except ModelError as exc:
                slot.refused_stamp, slot.last_error = stamp, str(exc)
                running = slot.runner.version if slot.runner else None
                log.error("refused model %s (%s); still running version %s", name, exc, running)
                changes.append(ModelChange(name, running, None, str(exc)))
                continue
            if runner.name != name:
                error = f"{tflite} declares itself as model {runner.name!r}, not {name!r}"
                slot.refused_stamp, slot.last_error = stamp, error
                log.error("refused model %s: %s", name, error)
                changes.append(ModelChange(name, slot.runner.version if slot.runner else None, None, error))
                continue
            old = slot.runner.version if slot.runner else None
            with self._lock:
                slot.runner, slot.stamp, slot.last_error = runner, stamp, None
            log.info("model %s: version %s -> %s", name, old, runner.version)
            changes.append(ModelChange(name, old, runner.version))
        return changes
