"""Runs the windows that are ready across all devices through their models, batch by batch.

Each cycle, every pipeline hands over the windows completed since the last cycle (from many
patients at once); they go through the model together in one call. ``batched=False`` runs them
one call per window instead: the baseline the edge benchmark compares against.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edge.pipeline import Pipeline, ShapesInputs, Window
from edge.registry import ModelRegistry
from iomt.wire.events import Event


@dataclass
class ModelStats:
    windows: int = 0
    inferences: int = 0
    calls: int = 0
    invoke_s: float = 0.0
    no_model: int = 0


@dataclass(frozen=True)
class Inferred:
    """The windows of one model that went through it in a cycle."""

    model: str
    windows: list[Window[Any]]


@dataclass
class InferenceEngine:
    registry: ModelRegistry
    pipelines: list[Pipeline[Any]]
    batched: bool = True
    stats: dict[str, ModelStats] = field(default_factory=dict)

    def cycle(self) -> tuple[list[Event], list[Inferred]]:
        """Cut ready windows, infer, and return the resulting events and the windows inferred, by model."""
        events: list[Event] = []
        inferred: list[Inferred] = []
        for pipeline in self.pipelines:
            windows, cut_events = pipeline.ready()
            events.extend(cut_events)
            if not windows:
                continue
            stats = self.stats.setdefault(pipeline.model, ModelStats())
            stats.windows += len(windows)
            runner = self.registry.current(pipeline.model)
            outputs = None
            if runner is None:
                stats.no_model += len(windows)
            else:
                started = time.perf_counter()
                if isinstance(pipeline, ShapesInputs):
                    x = pipeline.model_inputs(windows, runner)
                else:
                    x = np.stack([w.x for w in windows])
                if self.batched:
                    outputs = runner.predict(x)
                    stats.calls += 1
                else:
                    outputs = np.concatenate([runner.predict(x[i : i + 1]) for i in range(len(windows))])
                    stats.calls += len(windows)
                stats.invoke_s += time.perf_counter() - started
                stats.inferences += len(windows)
                inferred.append(Inferred(pipeline.model, windows))
            events.extend(pipeline.on_outputs(windows, outputs, runner))
        return events, inferred
