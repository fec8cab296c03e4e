"""Prometheus metrics of an edge node (served on ``metrics_port`` when configured)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5)


class EdgeMetrics:
    """One registry per node, so several nodes (or tests) in one process never collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.messages = Counter("iomt_edge_messages", "MQTT messages handled", ["result"], registry=r)
        self.windows = Counter("iomt_edge_windows", "Windows cut for a model", ["model"], registry=r)
        self.inferences = Counter("iomt_edge_inferences", "Windows run through a model", ["model"], registry=r)
        self.latency = Histogram(
            "iomt_edge_window_latency_seconds", "Arrival of a window's last sample to publication of its event",
            ["model"], buckets=LATENCY_BUCKETS, registry=r,
        )
        self.invoke = Histogram(
            "iomt_edge_model_invoke_seconds", "Time in the model per batch", ["model"], buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.cycle = Histogram(
            "iomt_edge_cycle_seconds", "One processing cycle: decode, windows, inference, outbox, publish",
            buckets=LATENCY_BUCKETS, registry=r,
        )
        self.events = Counter("iomt_edge_events", "Events published", ["kind"], registry=r)
        self.outbox_depth = Gauge("iomt_edge_outbox_depth", "Records waiting for the gateway", registry=r)
        self.shed = Counter("iomt_edge_shed_frames", "Raw frames shed under the outbox disk cap", registry=r)
        self.sequence = Counter("iomt_edge_sequence", "Sequence anomalies", ["kind"], registry=r)
        self.model_version = Gauge("iomt_edge_model_info", "Model version in use (value 1)", ["model", "version"],
                                   registry=r)

    def serve(self, port: int, host: str = "127.0.0.1") -> None:
        start_http_server(port, addr=host, registry=self.registry)
