"""Lesion segmentation of complete images on the edge, in a budget of its own so the physiological
pipelines keep their latency.

Reassembled, validated images (:mod:`iomt.wire.chunks`) are queued per node; each processing cycle
analyses at most ``per_cycle`` of them, and stops early once ``budget_ms`` of the cycle went to images
(one image always runs, so the queue drains). The queue is bounded: when full, the oldest image is
dropped and counted (``dropped``) — a flood of images never delays the ECG or fall alerts. At one image
per patient every 10 minutes, 1,000 patients send 1.7 images a second: one image per 20 ms cycle
keeps up thirty times over.

Each analysed image becomes one ``inference`` event of model ``imaging`` (format in
:func:`lesion_event`): label ``lesion`` with the predicted mask, areas and confidences when the
finding rule (:mod:`models.preprocessing.imaging`) finds one, else ``no_lesion``.
"""

from __future__ import annotations

import time
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from edge.config import ModelName
from edge.inference import Inferred, ModelStats
from edge.pipeline import Window
from iomt.wire.chunks import Image
from iomt.wire.events import Event, EventKind, Priority
from iomt.wire.masks import encode_rle
from models.preprocessing import imaging as prep
from models.runtime import ModelRunner

MODEL = ModelName.IMAGING
LESION, NO_LESION = "lesion", "no_lesion"
#: Namespace of image event ids: one id per (site, device, image, model version), so a re-analysis of
#: the same image (a restarted node, a second node) is stored once.
IMAGE_NAMESPACE = uuid.UUID("0c4e7a52-3f1d-4c55-9a7e-6b2f1e9d8a31")
#: Most runs an event's mask may have; a noisier mask is sent as bounding boxes only (``mask_rle`` null).
MAX_MASK_RUNS = 20_000


#: A window's input, for images analysed (the model's input is not kept after the cycle).
_NO_INPUT = np.zeros(0, dtype=np.float32)


@dataclass(frozen=True, slots=True)
class QueuedImage:
    device: str
    image: Image
    arrival_ns: int


def lesion_event(site: str, node: str, device: str, image: Image, runner_version: str, prob: np.ndarray,
                 inference_ms: float, threshold: float = prep.THRESHOLD) -> Event:
    """The event for one analysed image.

    ``detail``: ``image_seq``, ``shape`` [height, width], ``spacing_mm`` [row, col] or null,
    ``mask_rle`` (the union of the lesions found, :mod:`iomt.wire.masks`, null when over
    ``MAX_MASK_RUNS``; empty-mask images carry the runs of an all-background mask), ``lesions`` (each:
    ``area_px``, ``area_mm2`` or null, ``confidence``, ``bbox`` [x0, y0, x1, y1] inclusive, largest
    first), ``area_px`` and ``area_mm2`` (totals), ``rule`` (threshold, min_area_model_px, input size),
    ``preprocessing`` (version) and ``inference_ms``. ``score``: the highest lesion confidence, or, with
    none found, the highest lesion probability anywhere. ``value``: total area in mm² (px when the
    spacing is unknown). The window is the image's acquisition time. ``threshold``: the finding rule's,
    as the model's release names it (:func:`models.preprocessing.imaging.release_threshold`).
    """
    box = prep.Letterbox.of(*image.pixels.shape)
    union, found = prep.lesions(prob, box, image.spacing_mm, threshold)
    runs: list[int] | None = encode_rle(union)
    if runs is not None and len(runs) > MAX_MASK_RUNS:
        runs = None
    area_px = int(sum(f.area_px for f in found))
    area_mm2 = (float(sum(f.area_mm2 or 0.0 for f in found)) if image.spacing_mm else None)
    detail: dict[str, Any] = {
        "image_seq": image.seq,
        "shape": [int(v) for v in image.pixels.shape],
        "spacing_mm": list(image.spacing_mm) if image.spacing_mm else None,
        "mask_rle": runs,
        "lesions": [{"area_px": f.area_px, "area_mm2": None if f.area_mm2 is None else round(f.area_mm2, 3),
                     "confidence": round(f.confidence, 4), "bbox": list(f.bbox)} for f in found],
        "area_px": area_px,
        "area_mm2": None if area_mm2 is None else round(area_mm2, 3),
        "rule": prep.finding_rule(threshold),
        "preprocessing": prep.INPUT_VERSION,
        "inference_ms": round(inference_ms, 3),
    }
    score = max(f.confidence for f in found) if found else float(prob.max())
    value = (area_mm2 if area_mm2 is not None else float(area_px)) if found else 0.0
    event_id = uuid.uuid5(IMAGE_NAMESPACE, f"{site}\x1f{device}\x1f{image.seq}\x1f{image.t_us}\x1f{runner_version}")
    return Event(
        device=device, model=MODEL, model_version=runner_version, kind=EventKind.INFERENCE,
        label=LESION if found else NO_LESION, score=round(float(score), 4), window_start_us=image.t_us,
        window_end_us=image.t_us, t_us=image.t_us, site=site, node=node,
        priority=Priority.LOW if found else Priority.INFO, value=round(value, 3), detail=detail,
        event_id=event_id.hex,
    )


class ImagingPipeline:
    """Queue of complete images and their budgeted analysis (see the module docstring)."""

    def __init__(self, site: str, node: str, *, per_cycle: int = 1, budget_ms: float = 15.0,
                 max_queue: int = 256) -> None:
        if per_cycle < 1 or max_queue < 1 or budget_ms < 0:
            raise ValueError("per_cycle and max_queue must be at least 1 and budget_ms not negative")
        self.site, self.node = site, node
        self.per_cycle, self.budget_ms = per_cycle, budget_ms
        self.queue: deque[QueuedImage] = deque()
        self.max_queue = max_queue
        self.dropped = 0
        self.analysed = 0
        self.no_model = 0
        #: wall time of the recent analyses (pre-processing, invoke, finding rule, event), seconds
        self.seconds: deque[float] = deque(maxlen=4096)

    @property
    def pending(self) -> int:
        """Images waiting for analysis."""
        return len(self.queue)

    def counters(self) -> dict[str, int]:
        return {"queued": len(self.queue), "analysed": self.analysed, "dropped": self.dropped,
                "no_model": self.no_model}

    def run(self, runner: ModelRunner | None, stats: ModelStats) -> tuple[list[Event], Inferred | None]:
        """One cycle (:meth:`cycle`) accounted like the window pipelines' in ``stats``: the events, and
        the images analysed as windows (their arrival times, for the node's latency histograms)."""
        no_model = self.no_model
        started = time.perf_counter()
        done = self.cycle(runner)
        stats.no_model += self.no_model - no_model
        stats.windows += len(done) + (self.no_model - no_model)
        if not done:
            return [], None
        stats.invoke_s += time.perf_counter() - started
        stats.inferences += len(done)
        stats.calls += len(done)
        windows = [Window(e.device, e.window_start_us, e.window_end_us, _NO_INPUT, arrival, e.detail["image_seq"])
                   for e, arrival in done]
        return [e for e, _ in done], Inferred(MODEL, windows)

    def submit(self, device: str, image: Image, arrival_ns: int) -> None:
        self.queue.append(QueuedImage(device, image, arrival_ns))
        while len(self.queue) > self.max_queue:
            self.queue.popleft()
            self.dropped += 1

    def cycle(self, runner: ModelRunner | None) -> list[tuple[Event, int]]:
        """Analyse queued images within this cycle's budget: ``(event, arrival_ns)`` for each."""
        if not self.queue:
            return []
        if runner is None:  # no model loaded (yet): images are counted, not analysed
            self.no_model += len(self.queue)
            self.queue.clear()
            return []
        out: list[tuple[Event, int]] = []
        threshold = prep.release_threshold(runner.metadata.decision)
        started = time.perf_counter()
        for _ in range(self.per_cycle):
            if not self.queue or (out and (time.perf_counter() - started) * 1000 >= self.budget_ms):
                break
            item = self.queue.popleft()
            t0 = time.perf_counter()
            x, _ = prep.model_input(item.image.pixels)
            prob = prep.lesion_probability(runner.predict, x[None])[0]
            infer_ms = (time.perf_counter() - t0) * 1000
            event = lesion_event(self.site, self.node, item.device, item.image, runner.version, prob, infer_ms,
                                 threshold)
            out.append((event, item.arrival_ns))
            self.seconds.append(time.perf_counter() - t0)
            self.analysed += 1
        return out
