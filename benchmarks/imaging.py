"""``iomt bench imaging``: what the edge's imaging stage costs per image, pinned to one core.

Each image goes through exactly what the edge runs (:class:`edge.imaging_pipeline.ImagingPipeline`:
letterbox and scale, int8 LiteRT invoke, the finding rule on the image's pixels, the event) and the
same images through the model invoke alone (the baseline, measured in the same run). Simulated
128-px phantoms (the imaging device's default) and, when given, real images (larger: the finding
rule works on their own pixels, so they cost more). From the mean time per simulated image it
derives the share of one core that an image per patient every ``--interval`` seconds takes for
``--patients`` patients.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import cpus


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("imaging", help="edge imaging stage: time per image, int8")
    p.add_argument("--images", type=int, default=200, help="simulated images to time")
    p.add_argument("--real", type=Path, action="append", default=[], help="real image file or directory (repeatable)")
    p.add_argument("--patients", type=int, default=1000, help="patients for the derived core share")
    p.add_argument("--interval", type=float, default=600.0, help="seconds between a patient's images")
    p.add_argument("--core", type=int, default=0, help="core to pin to")
    p.add_argument("--json", type=Path, help="write the results here")
    p.set_defaults(func=run)


def _stats(seconds: list[float]) -> dict[str, float]:
    ms = np.asarray(seconds) * 1000
    return {"n": int(ms.size), "mean_ms": round(float(ms.mean()), 3), "p50_ms": round(float(np.median(ms)), 3),
            "p95_ms": round(float(np.percentile(ms, 95)), 3), "max_ms": round(float(ms.max()), 3)}


def _time_stage(runner: Any, images: list[Any]) -> tuple[list[float], list[float]]:
    from edge.imaging_pipeline import ImagingPipeline
    from models.preprocessing import imaging as prep

    stage, invoke = [], []
    pipeline = ImagingPipeline("bench", "edge-bench", per_cycle=1)
    for k, image in enumerate(images):
        pipeline.submit(f"dev-{k}", image, arrival_ns=0)
        t0 = time.perf_counter()
        assert len(pipeline.cycle(runner)) == 1
        stage.append(time.perf_counter() - t0)
        x, _ = prep.model_input(image.pixels)
        t0 = time.perf_counter()
        runner.predict(x[None])
        invoke.append(time.perf_counter() - t0)
    return stage, invoke


def run(args: argparse.Namespace) -> int:
    from firmware_sim.imaging import MODALITIES, draw_scanner, render_phantom
    from iomt.wire.chunks import Image
    from models.runtime import ModelRunner

    core = cpus.pin(args.core)
    runner = ModelRunner.released("imaging", num_threads=1)
    rng = np.random.default_rng(1)
    sim = []
    for k in range(args.images):
        p = render_phantom(rng, draw_scanner(rng, MODALITIES[k % 2]), 128, lesion=k % 5 != 0)
        sim.append(Image(k, k, p.image, p.spacing_mm))
    _time_stage(runner, sim[:10])  # warm-up
    stage, invoke = _time_stage(runner, sim)
    result: dict[str, Any] = {
        "core": core, "model_version": runner.version,
        "simulated_128px": {"stage": _stats(stage), "invoke_only_baseline": _stats(invoke)},
    }
    rate = args.patients / args.interval
    result["derived"] = {
        "patients": args.patients, "interval_s": args.interval, "images_per_s": round(rate, 3),
        "core_share_percent": round(100 * rate * float(np.mean(stage)), 3),
    }
    if args.real:
        from firmware_sim.image_files import load_images

        real = [Image(k, k, im.pixels, im.spacing_mm) for k, im in enumerate(
            im for path in args.real for im in load_images(path))]
        r_stage, r_invoke = _time_stage(runner, real)
        result["real"] = {"images": len(real), "stage": _stats(r_stage), "invoke_only_baseline": _stats(r_invoke),
                          "largest": max(int(im.pixels.size) for im in real)}
    text = json.dumps(result, indent=2)
    print(text)  # noqa: T201 - a benchmark prints its figures
    if args.json:
        args.json.write_text(text + "\n")
    return 0
