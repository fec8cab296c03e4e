"""Typed application keys shared by the handlers."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from aiohttp import web

from gateway.config import GatewayConfig
from gateway.live import LiveHub
from gateway.metrics import Metrics
from gateway.station.service import Station
from gateway.store.base import Store

STORE = web.AppKey("store", Store)
WRITER = web.AppKey("writer", ThreadPoolExecutor)
CONFIG = web.AppKey("config", GatewayConfig)
HUB = web.AppKey("hub", LiveHub)
METRICS = web.AppKey("metrics", Metrics)
STATION = web.AppKey("station", Station)
