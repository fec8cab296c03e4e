"""The node's latency figures come from its Prometheus histograms, as Prometheus computes quantiles."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edge.metrics import LATENCY_BUCKETS, EdgeMetrics
from edge.stats import bucket_quantile, distribution_summary, overall_summary, summary

INF = math.inf


def test_a_quantile_is_interpolated_within_its_bucket_as_prometheus_does() -> None:
    bounds, cumulative = [1.0, 2.0, 4.0, INF], [10, 30, 40, 40]
    assert bucket_quantile(0.5, bounds, cumulative) == pytest.approx(1.5)  # rank 20: half way into (1, 2]
    assert bucket_quantile(0.25, bounds, cumulative) == pytest.approx(1.0)  # rank 10: the first bucket's top
    assert bucket_quantile(0.1, bounds, cumulative) == pytest.approx(0.4)  # the first bucket starts at 0
    assert bucket_quantile(0.9, bounds, cumulative) == pytest.approx(3.2)  # rank 36 of (30, 40] in (2, 4]
    assert bucket_quantile(0.99, [1.0, 2.0, INF], [10, 10, 20]) == 2.0  # in +Inf: the highest finite bound
    assert bucket_quantile(0.5, [1.0, 2.0, INF], [0, 0, 0]) is None


def test_a_summary_never_reports_a_quantile_above_the_largest_value() -> None:
    out = summary([1.0, 2.0, 4.0, INF], [10, 30, 40, 40], largest=2.5, scale=1e3)
    assert out == {"count": 40, "p50": pytest.approx(1500.0), "p90": 2500.0, "p99": 2500.0, "p99.9": 2500.0,
                   "max": 2500.0}
    assert summary([1.0, INF], [0, 0], None) == {"count": 0, "p50": None, "p90": None, "p99": None,
                                                  "p99.9": None, "max": None}


def test_latency_percentiles_from_the_histograms_are_within_a_millisecond_or_two_of_the_exact_ones() -> None:
    """On a latency-like distribution (the edge benchmark's: p50 ~23 ms, p99 ~55 ms, a tail to 2 s)."""
    rng = np.random.default_rng(7)
    ecg = np.concatenate([rng.lognormal(np.log(0.023), 0.3, 30_000), rng.uniform(0.3, 2.0, 30)])
    fall = rng.lognormal(np.log(0.022), 0.28, 10_000)
    metrics = EdgeMetrics()
    metrics.latency.observe_many(ecg.tolist(), "ecg")
    metrics.latency.observe_many(fall.tolist(), "fall")
    by_model = distribution_summary(metrics.latency, 1e3)
    everything = overall_summary(metrics.latency, 1e3)
    for values, figures in [(ecg, by_model["ecg"]), (fall, by_model["fall"]), (np.concatenate([ecg, fall]),
                                                                                everything)]:
        exact = np.percentile(values * 1e3, [50, 90, 99])
        assert figures["count"] == values.size and figures["max"] == pytest.approx(values.max() * 1e3)
        for name, value in zip(("p50", "p90", "p99"), exact, strict=True):
            assert figures[name] == pytest.approx(value, rel=0.03, abs=0.5), name
    # the old bounds are all still there, so queries and dashboards on them keep working
    assert {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5} <= set(LATENCY_BUCKETS)


def test_an_unlabelled_distribution_and_one_never_observed() -> None:
    metrics = EdgeMetrics()
    assert overall_summary(metrics.latency)["count"] == 0 and distribution_summary(metrics.latency) == {}
    assert distribution_summary(metrics.cycle_messages)[""]["count"] == 0
    for n in (10, 130, 135, 140, 400):
        metrics.cycle_messages.observe(n)
    figures = distribution_summary(metrics.cycle_messages)[""]
    assert figures["count"] == 5 and figures["max"] == 400 and 130 <= figures["p50"] <= 140
