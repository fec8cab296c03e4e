"""What every model pipeline of the edge shares: the window it hands to a model, and its interface."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from iomt.wire.events import Event
from iomt.wire.frames import Frame
from models.runtime import ModelRunner


@dataclass(slots=True)
class Window:
    """One model input cut from a device's streams.

    ``arrival_ns`` is the monotonic time at which the frame that completed the window reached this
    node: inference latency is measured from it to the publication of the window's event.
    """

    device: str
    start_us: int
    end_us: int
    x: np.ndarray
    arrival_ns: int
    extra: Any = None
    model: str = ""
    #: monotonic start of the processing cycle that cut the window (set by the edge processor)
    cycle_ns: int = 0


class Pipeline(Protocol):
    """Turns frames of some streams into windows for one model, and model outputs into events."""

    model: str
    streams: frozenset[str]

    def on_frame(self, frame: Frame, arrival_ns: int) -> list[Event]:
        """Buffer a frame; may return events at once (signal quality, a confirmed alert)."""
        ...

    def on_gap(self, device: str, stream: str) -> None:
        """A sequence gap: buffered samples must not be spliced with what follows."""
        ...

    def ready(self) -> tuple[list[Window], list[Event]]:
        """Windows whose data is complete (each returned once), and events made while cutting them
        (signal quality, heart rate)."""
        ...

    def on_outputs(self, windows: list[Window], outputs: np.ndarray | None, runner: ModelRunner | None) -> list[Event]:
        """Events for windows after inference (``outputs`` is ``None`` when no model is loaded)."""
        ...


def class_index(runner: ModelRunner, label: str) -> int | None:
    try:
        return runner.classes.index(label)
    except ValueError:
        return None
