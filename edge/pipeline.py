"""What every model pipeline of the edge shares: the window it hands to a model, and its interface."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

import numpy as np

from edge.config import ModelName
from iomt.wire.descriptor import DeviceDescriptor
from iomt.wire.events import Event
from iomt.wire.frames import Frame, Reading
from models.runtime import ModelRunner

P = TypeVar("P")


@dataclass(frozen=True, slots=True)
class Window(Generic[P]):
    """One model input cut from a device's streams, with what its pipeline needs back after inference.

    ``arrival_ns`` is the monotonic time at which the frame that completed the window reached this
    node: inference latency is measured from it to the publication of the window's event. ``extra``
    is the pipeline's own payload, typed by it: a beat's R-peak time for the ECG pipeline, the
    impact time for the fall pipeline, nothing for the emotion pipeline.
    """

    device: str
    start_us: int
    end_us: int
    x: np.ndarray
    arrival_ns: int
    extra: P


class Pipeline(Protocol[P]):
    """Turns frames of some streams into windows for one model, and model outputs into events.

    ``P`` is the type of its windows' ``extra``.
    """

    model: ModelName
    streams: frozenset[str]

    def on_frame(self, frame: Frame, arrival_ns: int) -> list[Event]:
        """Buffer a frame; may return events at once (signal quality, a confirmed alert)."""
        ...

    def on_gap(self, device: str, stream: str) -> None:
        """A sequence gap: buffered samples must not be spliced with what follows."""
        ...

    def ready(self) -> tuple[list[Window[P]], list[Event]]:
        """Windows whose data is complete (each returned once), and events made while cutting them
        (signal quality, heart rate)."""
        ...

    def on_outputs(
        self, windows: list[Window[P]], outputs: np.ndarray | None, runner: ModelRunner | None
    ) -> list[Event]:
        """Events for windows after inference (``outputs`` is ``None`` when no model is loaded)."""
        ...


@runtime_checkable
class ShapesInputs(Protocol):
    """A pipeline whose windows hold more than one model input format: it turns them into the input of
    the model running now (a node may run either of two released versions, and swap between them)."""

    def model_inputs(self, windows: list[Window[Any]], runner: ModelRunner) -> np.ndarray:
        """The batch ``runner`` reads for ``windows``."""
        ...


@runtime_checkable
class DescriptorAware(Protocol):
    """A pipeline that uses what devices declare about themselves (their motion sensor's placement)."""

    def on_descriptor(self, device: str, descriptor: DeviceDescriptor | None) -> None:
        """``device`` declared ``descriptor`` (``None``: withdrew it); applies from its next frame."""
        ...


@runtime_checkable
class ReadingPipeline(Pipeline[P], Protocol[P]):
    """A pipeline that also reads low-rate readings (vital signs) of ``reading_streams``."""

    reading_streams: frozenset[str]

    def on_reading(self, reading: Reading, arrival_ns: int) -> list[Event]:
        """Buffer a reading (in order: late and duplicate ones never reach it); may return events."""
        ...


@runtime_checkable
class Counted(Protocol):
    """A pipeline with counters of its own for the node's stats (``iomt edge --stats``)."""

    def counters(self) -> dict[str, int]: ...


def class_index(runner: ModelRunner, label: str) -> int | None:
    try:
        return runner.classes.index(label)
    except ValueError:
        return None
