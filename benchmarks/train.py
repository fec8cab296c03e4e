"""``iomt bench train``: samples/s training the same full-size model on the CPU and on the GPU.

Each device runs in its own process (Keras fixes its backend at import: TensorFlow for the CPU,
JAX for the GPU) on the same fixed-seed random batch of windows shaped like the model input, for
a fixed number of samples after one warm-up epoch. Without a GPU the GPU entry says so and why:
it is never estimated.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from models.definitions import MODEL_NAMES

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    p = sub.add_parser("train", help="training samples/s of a full-size model, CPU vs GPU")
    p.add_argument("--model", choices=MODEL_NAMES, default="ecg")
    p.add_argument("--variant", choices=("full", "edge"), default="full")
    p.add_argument("--samples", type=int, default=8192, help="samples trained per device (after a warm-up)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--json", type=Path, default=Path("build/bench/train.json"), help="where to write the figures")
    p.set_defaults(func=_run)


def measure(device: str, model: str, variant: str, samples: int, batch_size: int) -> dict[str, Any]:
    """Train in this process on ``device`` (Keras not imported yet) and return the timing."""
    from cloud.device import configure

    placement = configure(device)
    import keras
    import numpy as np

    from models.definitions import build, spec

    s = spec(model)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(samples, *s.input_shape)).astype(np.float32)
    y = rng.integers(0, len(s.classes), size=samples)
    m = build(model, variant, seed=0)
    m.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    m.fit(x[: batch_size * 4], y[: batch_size * 4], batch_size=batch_size, epochs=1, verbose=0)  # compile/warm up
    started = time.perf_counter()
    m.fit(x, y, batch_size=batch_size, epochs=1, verbose=0, shuffle=False)
    seconds = time.perf_counter() - started
    return {
        "device": placement.device,
        "backend": placement.backend,
        "detail": placement.detail,
        "parameters": int(m.count_params()),
        "samples": samples,
        "seconds": round(seconds, 3),
        "samples_per_s": round(samples / seconds, 1),
    }


def _child(device: str, args: argparse.Namespace) -> dict[str, Any]:
    code = (
        "import json, sys; from benchmarks.train import measure; "
        f"print('RESULT ' + json.dumps(measure({device!r}, {args.model!r}, {args.variant!r}, "
        f"{args.samples}, {args.batch_size})))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=3600)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            result: dict[str, Any] = json.loads(line[len("RESULT ") :])
            return result
    reason = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    return {"device": device, "available": False, "reason": reason}


def _run(args: argparse.Namespace) -> int:
    from cloud.device import jax_gpus

    results: dict[str, Any] = {
        "model": args.model,
        "variant": args.variant,
        "batch_size": args.batch_size,
        "cpu": _child("cpu", args),
    }
    if jax_gpus():
        results["gpu"] = _child("gpu", args)
    else:
        results["gpu"] = {
            "available": False,
            "reason": "no GPU visible to JAX on this machine (pip install jax[cuda12])",
        }
    if "samples_per_s" in results["cpu"] and "samples_per_s" in results["gpu"]:
        results["gpu_speedup"] = round(results["gpu"]["samples_per_s"] / results["cpu"]["samples_per_s"], 2)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    lines = [f"train bench: {args.model}/{args.variant}, {args.samples} samples, batch {args.batch_size}"]
    for dev in ("cpu", "gpu"):
        r = results[dev]
        if "samples_per_s" in r:
            lines.append(
                f"  {dev}: {r['samples_per_s']:>10.1f} samples/s  ({r['backend']}, {r['detail']}, {r['seconds']} s)"
            )
        else:
            lines.append(f"  {dev}: unavailable: {r.get('reason')}")
    if "gpu_speedup" in results:
        lines.append(f"  GPU speed-up: {results['gpu_speedup']}x")
    lines.append(f"  written to {args.json}")
    print("\n".join(lines))  # noqa: T201 - a benchmark prints its figures
    return 0 if "samples_per_s" in results["cpu"] else 1
