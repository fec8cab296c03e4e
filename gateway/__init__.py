"""The gateway: uplink receiver, time-series store, REST/WebSocket API and the live dashboard."""
