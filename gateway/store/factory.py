"""Open the store the gateway's config names."""

from __future__ import annotations

from gateway.config import GatewayConfig
from gateway.store.base import Store
from gateway.store.records import Retention


def open_store(config: GatewayConfig) -> Store:
    retention = Retention(config.retention.waveform_days, config.retention.events_days)
    if config.backend == "influxdb":
        from gateway.store.influx import InfluxStore

        influx = config.influx
        password = influx.password.get_secret_value() if influx.password is not None else None
        return InfluxStore(influx.url, influx.database, retention, influx.timeout_s, influx.username, password)
    from gateway.store.sqlite import SqliteStore

    return SqliteStore(config.db_path, retention=retention)
