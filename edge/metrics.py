"""Prometheus metrics of an edge node (served on ``metrics_port`` when configured).

They are also what the node reports about itself elsewhere (:mod:`edge.stats`, ``iomt edge
--stats``): latency percentiles come from these histograms, whose buckets are fine enough (2.5 ms
apart from 10 to 40 ms, 5 ms up to 80 ms) for an interpolated p50/p99 to be within a millisecond
or two of the exact one.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

#: Seconds; a superset of the buckets used before (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075,
#: 0.1, 0.25, 0.5, 1, 2.5), so queries on those bounds keep working.
LATENCY_BUCKETS = (
    0.001, 0.002, 0.0025, 0.003, 0.004, 0.005, 0.006, 0.007, 0.008, 0.009,
    0.01, 0.0125, 0.015, 0.0175, 0.02, 0.0225, 0.025, 0.0275, 0.03, 0.0325, 0.035, 0.0375, 0.04,
    0.045, 0.05, 0.055, 0.06, 0.065, 0.07, 0.075, 0.08, 0.09, 0.1,
    0.125, 0.15, 0.175, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0,
)
#: Messages handled in one processing cycle (at most ``max_batch_messages``, 20,000).
CYCLE_MESSAGE_BUCKETS = (
    1, 2, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150, 160, 180, 200, 225, 250, 275,
    300, 350, 400, 500, 750, 1000, 1500, 2000, 5000, 10000, 20000,
)


class Distribution:
    """A histogram with the largest value observed beside it (a gauge): what operators graph and alert
    on, and what :mod:`edge.stats` reads percentiles from. Labelled by model, or not labelled."""

    def __init__(
        self, name: str, max_name: str, documentation: str, buckets: tuple[float, ...], registry: CollectorRegistry,
        by_model: bool = False,
    ) -> None:
        labels = ["model"] if by_model else []
        self.histogram = Histogram(name, documentation, labels, buckets=buckets, registry=registry)
        self.max = Gauge(max_name, f"Largest value since the node started: {documentation[0].lower()}"
                         f"{documentation[1:]}", labels, registry=registry)
        self._largest: dict[str, float] = {}

    def observe(self, value: float, model: str = "") -> None:
        (self.histogram.labels(model) if model else self.histogram).observe(value)
        if value > self._largest.get(model, float("-inf")):
            self._largest[model] = value
            (self.max.labels(model) if model else self.max).set(value)

    def observe_many(self, values: list[float], model: str = "") -> None:
        if not values:
            return
        histogram = self.histogram.labels(model) if model else self.histogram
        for value in values:
            histogram.observe(value)
        largest = max(values)
        if largest > self._largest.get(model, float("-inf")):
            self._largest[model] = largest
            (self.max.labels(model) if model else self.max).set(largest)

    def largest(self) -> dict[str, float]:
        """The largest value observed, per model (``""`` when not labelled)."""
        return dict(self._largest)


class EdgeMetrics:
    """One registry per node, so several nodes (or tests) in one process never collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.messages = Counter("iomt_edge_messages", "MQTT messages handled", ["result"], registry=r)
        self.windows = Counter("iomt_edge_windows", "Windows cut for a model", ["model"], registry=r)
        self.inferences = Counter("iomt_edge_inferences", "Windows run through a model", ["model"], registry=r)
        self.latency = Distribution(
            "iomt_edge_window_latency_seconds", "iomt_edge_window_latency_max_seconds",
            "Arrival of a window's last sample to publication of its event", LATENCY_BUCKETS, r, by_model=True,
        )
        self.wait = Distribution(
            "iomt_edge_window_wait_seconds", "iomt_edge_window_wait_max_seconds",
            "Part of a window's latency before the processing cycle that cut it began (queued, or waiting for "
            "data the window needs)", LATENCY_BUCKETS, r, by_model=True,
        )
        self.invoke = Histogram(
            "iomt_edge_model_invoke_seconds", "Time in the model per batch", ["model"], buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.cycle = Distribution(
            "iomt_edge_cycle_seconds", "iomt_edge_cycle_max_seconds",
            "One processing cycle: decode, windows, inference, outbox, publish", LATENCY_BUCKETS, r,
        )
        self.cycle_messages = Distribution(
            "iomt_edge_cycle_messages", "iomt_edge_cycle_messages_max", "Messages handled in one processing cycle",
            tuple(float(b) for b in CYCLE_MESSAGE_BUCKETS), r,
        )
        self.events = Counter("iomt_edge_events", "Events published", ["kind"], registry=r)
        self.outbox_depth = Gauge("iomt_edge_outbox_depth", "Records waiting for the gateway", registry=r)
        self.shed = Counter("iomt_edge_shed_frames", "Raw frames shed under the outbox disk cap", registry=r)
        self.sequence = Counter("iomt_edge_sequence", "Sequence anomalies", ["kind"], registry=r)
        self.model_version = Gauge("iomt_edge_model_info", "Model version in use (value 1)", ["model", "version"],
                                   registry=r)

    def serve(self, port: int, host: str = "127.0.0.1") -> None:
        start_http_server(port, addr=host, registry=self.registry)
