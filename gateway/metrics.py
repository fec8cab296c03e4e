"""Prometheus metrics of the gateway and its store (one registry per application)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from gateway.store.base import StreamAccounting
from gateway.store.records import Table


class _StoreCollector(Collector):
    """Rows per table, and per-stream loss and refused redeliveries, read from the store at scrape time."""

    def __init__(self, store: StreamAccounting) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        rows = GaugeMetricFamily("iomt_store_rows", "Records held by the store", labels=["table"])
        for table in Table:
            rows.add_metric([table.value], self.store.count(table))
        yield rows
        missing = GaugeMetricFamily(
            "iomt_store_stream_missing", "Sequence numbers missing per stream", labels=["device", "stream"]
        )
        duplicates = GaugeMetricFamily(
            "iomt_store_stream_duplicates", "Redeliveries refused per stream", labels=["device", "stream"]
        )
        for s in self.store.stream_stats():
            missing.add_metric([s.device, s.stream], s.missing)
            duplicates.add_metric([s.device, s.stream], s.duplicates)
        yield missing
        yield duplicates


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.uplink_batches = Counter(
            "iomt_gateway_uplink_batches", "Uplink batches by outcome", ["outcome"], registry=r
        )
        self.records = Counter(
            "iomt_gateway_uplink_records", "Uplink records: stored, duplicate or rejected", ["result"], registry=r
        )
        self.write_seconds = Histogram(
            "iomt_gateway_store_write_seconds", "Time to commit one uplink batch", registry=r,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
        )
        self.requests = Counter(
            "iomt_gateway_http_requests", "HTTP requests by route and status", ["method", "route", "status"],
            registry=r,
        )
        self.live_clients = Gauge("iomt_gateway_live_clients", "Connected live-feed browsers", registry=r)
        self.live_dropped = Counter(
            "iomt_gateway_live_dropped_messages", "Live messages dropped for slow browsers", registry=r
        )
        self.alert_actions = Counter(
            "iomt_gateway_alert_actions", "Alert acknowledgements and resolutions", ["action"], registry=r
        )
        self.images = Counter(
            "iomt_gateway_images", "Imaging payloads: stored, duplicate or refused", ["outcome"], registry=r
        )
        self.image_refusals = Counter(
            "iomt_gateway_image_refusals", "Imaging payloads refused, by the field at fault (tag: failed "
            "authentication; encryption: not encrypted; key_id: no such device key)", ["field"], registry=r
        )
        self.refused_resolutions = Counter(
            "iomt_gateway_refused_alert_resolutions",
            "Edge resolutions refused because another node raised the alert", registry=r,
        )
        self.logins = Counter(
            "iomt_gateway_logins", "Password checks (login and token requests) by outcome", ["outcome"], registry=r
        )
        self.large_bodies_refused = Counter(
            "iomt_gateway_large_bodies_refused", "Large uploads answered 503 because every slot stayed taken",
            registry=r,
        )

    def watch_store(self, store: StreamAccounting) -> None:
        self.registry.register(_StoreCollector(store))

    def render(self) -> bytes:
        """The exposition text (calls the store: run it off the event loop)."""
        return generate_latest(self.registry)
