"""The pipelines a node runs, chosen by ``config.models``: one factory per model name.

A node runs only the pipelines of its configured models. The imaging model is not a window pipeline:
complete images go through it from a queue of their own, on a budget of each cycle
(:func:`build_imaging`, :mod:`edge.imaging_pipeline`). Heart rate and ECG signal quality come
from the R-peaks the ECG pipeline finds, so they come with the ``ecg`` model; a node without it
forwards ECG frames to the gateway (every valid frame is stored, whatever runs here) but searches
no R-peaks, so it reports neither. A pipeline runs whether or not its model file has loaded yet:
its windows are counted (``no_model``) and its signal-quality and heart-rate events still flow.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from edge.config import EdgeConfig, ModelName
from edge.ecg_pipeline import EcgPipeline
from edge.emotion_pipeline import EmotionPipeline
from edge.events import EventFactory
from edge.fall_pipeline import FallPipeline
from edge.imaging_pipeline import ImagingPipeline
from edge.pipeline import Pipeline
from edge.quality_state import QualityTracker
from edge.vitals_pipeline import VitalsPipeline


@dataclass(frozen=True)
class PipelineContext:
    """What a pipeline factory may build its pipeline from."""

    config: EdgeConfig
    events: EventFactory
    quality: QualityTracker
    #: the version of a model running now (``None``: not loaded), for pipelines whose verdicts depend on it
    model_version: Callable[[ModelName], str | None] = field(default=lambda _name: None)


PipelineFactory = Callable[[PipelineContext], Pipeline[Any]]


def _ecg(ctx: PipelineContext) -> Pipeline[Any]:
    c = ctx.config
    return EcgPipeline(ctx.events, ctx.quality, c.ecg_window_s, c.ecg_hop_s, c.hr_interval_s)


def _fall(ctx: PipelineContext) -> Pipeline[Any]:
    return FallPipeline(ctx.events, ctx.quality, ctx.config.fall_screen_g,
                        model_version=lambda: ctx.model_version(ModelName.FALL))


def _emotion(ctx: PipelineContext) -> Pipeline[Any]:
    return EmotionPipeline(ctx.events)


def _vitals(ctx: PipelineContext) -> Pipeline[Any]:
    alert_from = ctx.config.vitals_alert_from
    return VitalsPipeline(ctx.events, None if alert_from == "off" else alert_from)


PIPELINES: Mapping[ModelName, PipelineFactory] = {
    ModelName.ECG: _ecg,
    ModelName.FALL: _fall,
    ModelName.EMOTION: _emotion,
    ModelName.VITALS: _vitals,
}


def build_pipelines(ctx: PipelineContext) -> list[Pipeline[Any]]:
    """The pipelines of ``ctx.config.models`` (in the order of :data:`PIPELINES`, whatever the order
    configured: a cycle's events come in one order)."""
    return [factory(ctx) for name, factory in PIPELINES.items() if name in ctx.config.models]


def build_imaging(config: EdgeConfig) -> ImagingPipeline | None:
    """The imaging stage when ``config.models`` has the imaging model (its queue costs nothing while no
    image arrives), else ``None``: images are then forwarded, not analysed."""
    if ModelName.IMAGING not in config.models:
        return None
    return ImagingPipeline(config.site, config.node_id, per_cycle=config.imaging_per_cycle,
                           budget_ms=config.imaging_budget_ms, max_queue=config.imaging_max_queue)
