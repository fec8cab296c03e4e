"""What a running edge node reports about itself, as one JSON-ready snapshot (``iomt edge --stats``).

Counters come from the processor, the outbox and the uplink; latency and cycle figures from the
node's Prometheus histograms (:mod:`edge.metrics`), as an operator's Prometheus would compute them
(``histogram_quantile``: linear within a bucket), capped by the exact largest value.
"""

from __future__ import annotations

import math
import resource
from collections.abc import Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from edge.metrics import Distribution
from edge.pipeline import Counted

if TYPE_CHECKING:
    from edge.node import EdgeNode

#: The quantiles reported, by name.
QUANTILES = {"p50": 0.5, "p90": 0.9, "p99": 0.99, "p99.9": 0.999}


def bucket_quantile(q: float, bounds: Sequence[float], cumulative: Sequence[float]) -> float | None:
    """The ``q``-quantile of a histogram with upper ``bounds`` (ascending, the last ``inf``) and
    ``cumulative`` counts per bound, as Prometheus' ``histogram_quantile`` computes it: linear
    interpolation within the bucket the rank falls in (the first bucket starts at 0); the highest
    finite bound when it falls in the ``+Inf`` bucket; ``None`` without observations."""
    total = cumulative[-1] if cumulative else 0
    if total <= 0:
        return None
    rank = q * total
    below = 0.0
    for i, (bound, count) in enumerate(zip(bounds, cumulative, strict=True)):
        if count >= rank and count > below:
            lower = bounds[i - 1] if i > 0 else 0.0
            if math.isinf(bound):
                return lower
            return lower + (bound - lower) * (rank - below) / (count - below)
        below = count
    return None  # unreachable for 0 < q <= 1: the last count is the total


def summary(bounds: Sequence[float], cumulative: Sequence[float], largest: float | None,
            scale: float = 1.0) -> dict[str, Any]:
    """``count``, the :data:`QUANTILES` (none above ``largest``) and ``max``, each times ``scale``."""
    count = int(cumulative[-1]) if cumulative else 0
    if count == 0 or largest is None:
        return {"count": count, **dict.fromkeys(QUANTILES), "max": None}
    out: dict[str, Any] = {"count": count}
    for name, q in QUANTILES.items():
        value = bucket_quantile(q, bounds, cumulative)
        out[name] = None if value is None else min(value, largest) * scale
    out["max"] = largest * scale
    return out


def buckets(distribution: Distribution) -> dict[str, tuple[list[float], list[float]]]:
    """``{model: (bounds, cumulative counts)}`` of a distribution's histogram (``""``: not labelled)."""
    found: dict[str, dict[float, float]] = {}
    for family in distribution.histogram.collect():
        for sample in family.samples:
            if sample.name.endswith("_bucket"):
                model = sample.labels.get("model", "")
                found.setdefault(model, {})[float(sample.labels["le"])] = sample.value
    out = {}
    for model, counts in found.items():
        bounds = sorted(counts)
        out[model] = (bounds, [counts[b] for b in bounds])
    return out


def distribution_summary(distribution: Distribution, scale: float = 1.0) -> dict[str, dict[str, Any]]:
    """:func:`summary` of every model of ``distribution`` (``""`` when not labelled)."""
    largest = distribution.largest()
    return {model: summary(bounds, cumulative, largest.get(model), scale)
            for model, (bounds, cumulative) in buckets(distribution).items()}


def overall_summary(distribution: Distribution, scale: float = 1.0) -> dict[str, Any]:
    """:func:`summary` of all models of ``distribution`` together."""
    per_model = buckets(distribution)
    largest = distribution.largest()
    if not per_model:
        return summary([], [], None)
    bounds = next(iter(per_model.values()))[0]
    cumulative = [sum(counts[i] for _b, counts in per_model.values()) for i in range(len(bounds))]
    return summary(bounds, cumulative, max(largest.values(), default=None), scale)


def node_stats(node: EdgeNode, wall_s: float) -> dict[str, Any]:
    """Counters, latency percentiles and resource use of a node that ran for ``wall_s`` seconds."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    metrics = node.metrics
    processor = node.processor
    cycles = distribution_summary(metrics.cycle, 1e3).get("", summary([], [], None))
    messages = distribution_summary(metrics.cycle_messages).get("", summary([], [], None))
    return {
        "wall_s": wall_s,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": usage.ru_maxrss / 1024.0,
        "counters": asdict(processor.counters),
        "sequence": processor.sequences.totals(),
        "models": {name: asdict(s) for name, s in processor.engine.stats.items()},
        "pipelines": {**{str(p.model): p.counters() for p in processor.pipelines if isinstance(p, Counted)},
                      **({"imaging": processor.imaging.counters()} if processor.imaging is not None else {})},
        "model_versions": processor.registry.versions(),
        "latency_ms": overall_summary(metrics.latency, 1e3),
        "latency_ms_by_model": distribution_summary(metrics.latency, 1e3),
        "outbox": {"pending": node.outbox.pending, "shed": node.outbox.shed_total},
        "uplink": asdict(node.uplink.stats),
        "gc": node.gc.summary(),
        "latency_ms_before_cycle": overall_summary(metrics.wait, 1e3),
        "cycles": {"ms": cycles, "messages": messages},
    }
