"""The live feed: decimated waveforms, events and alerts pushed to dashboards over WebSocket.

Every browser gets a bounded queue. When a browser reads slower than the gateway produces, the
oldest queued message is dropped (and counted) instead of letting memory grow; a browser that is
gone is noticed by the WebSocket heartbeat and removed. Alerts are never lost by this: they are in
the store, and the page reloads the alert list from the REST API.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from aiohttp import WSMsgType, web

from gateway import serde
from gateway.alerts import Alert
from gateway.store.records import WriteBatch, WriteResult
from iomt.wire.events import EventKind
from iomt.wire.frames import Frame

log = logging.getLogger(__name__)

ECG_STREAMS = frozenset({"ecg", "ppg"})
MOTION_STREAMS = frozenset({"acc"})
#: Slow single-channel waveforms (the emotion band's respiration and skin conductance), sent at the motion rate.
SLOW_STREAMS = frozenset({"resp", "eda"})


def decimate_peaks(values: np.ndarray, factor: int) -> np.ndarray:
    """Keep, of every ``factor`` samples, the one farthest from their mean (so R peaks and impacts survive).

    A trailing partial block is treated the same way.
    """
    if factor <= 1 or values.size == 0:
        return values.astype(np.float32)
    n_full = values.size // factor
    out = []
    if n_full:
        blocks = values[: n_full * factor].reshape(n_full, factor)
        pick = np.abs(blocks - blocks.mean(axis=1, keepdims=True)).argmax(axis=1)
        out.append(blocks[np.arange(n_full), pick])
    rest = values[n_full * factor:]
    if rest.size:
        out.append(rest[[int(np.abs(rest - rest.mean()).argmax())]])
    return np.concatenate(out).astype(np.float32)


@dataclass(frozen=True, slots=True)
class WaveFrame:
    """A frame reduced for drawing: sample ``i`` of ``v`` is at ``t0_us + i * dt_us``."""

    device: str
    stream: str
    seq: int
    t0_us: int
    dt_us: int
    v: list[float]


def frame_for_display(frame: Frame, ecg_hz: float, motion_hz: float) -> WaveFrame | None:
    """A frame reduced for drawing: ECG-like streams decimated, motion as magnitude, respiration and EDA at the
    motion rate; others (gyroscope) not shown. Each keeps its stream name, so the page draws it in its own trace."""
    if frame.stream in ECG_STREAMS:
        signal, target = frame.values()[:, 0], ecg_hz
    elif frame.stream in MOTION_STREAMS:
        signal, target = np.linalg.norm(frame.values(), axis=1), motion_hz
    elif frame.stream in SLOW_STREAMS:
        signal, target = frame.values()[:, 0], motion_hz
    else:
        return None
    factor = max(1, round(frame.sample_rate / target))
    shown = decimate_peaks(signal, factor)
    return WaveFrame(frame.device, frame.stream, frame.seq, frame.t0_us, round(factor * 1e6 / frame.sample_rate),
                     np.round(shown.astype(np.float64), 3).tolist())


def batch_messages(batch: WriteBatch, result: WriteResult, ecg_hz: float, motion_hz: float) -> list[str]:
    """The live messages a committed batch produces, serialized once for every browser.

    Alerts come from the write's result — the alerts it raised or changed, as stored — not from the
    batch: an edge's resolution arrives as the alert it resolved, and a redelivered alert (whose state
    people may have changed since) sends nothing.
    """
    messages = []
    waves = [w for f in batch.frames if (w := frame_for_display(f, ecg_hz, motion_hz)) is not None]
    if waves:
        messages.append(serde.dumps({"type": "wave", "frames": [serde.to_json(w) for w in waves]}))
    events = [serde.event_json(e) for e in batch.events if e.kind != EventKind.ALERT]
    if events:
        messages.append(serde.dumps({"type": "events", "events": events}))
    messages.extend(alert_message(alert) for alert in result.alerts)
    return messages


def alert_message(alert: Alert) -> str:
    return serde.dumps({"type": "alert", "alert": serde.alert_json(alert)})


@dataclass(eq=False)
class LiveClient:
    queue: asyncio.Queue[str]
    dropped: int = 0
    sent: int = 0


@dataclass
class LiveHub:
    """Fans messages out to the connected browsers (all on the event loop's thread)."""

    queue_messages: int = 64
    on_drop: Callable[[int], None] = lambda n: None
    clients: set[LiveClient] = field(default_factory=set)

    def connect(self) -> LiveClient:
        client = LiveClient(asyncio.Queue(self.queue_messages))
        self.clients.add(client)
        return client

    def disconnect(self, client: LiveClient) -> None:
        self.clients.discard(client)

    def publish(self, messages: list[str]) -> None:
        for client in self.clients:
            for message in messages:
                if client.queue.full():
                    client.queue.get_nowait()
                    client.dropped += 1
                    self.on_drop(1)
                client.queue.put_nowait(message)

    async def serve(self, request: web.Request) -> web.WebSocketResponse:
        """One browser's connection: a sender task drains its queue while this reads control frames."""
        ws = web.WebSocketResponse(heartbeat=10.0, max_msg_size=4096)
        await ws.prepare(request)
        client = self.connect()
        sender = asyncio.ensure_future(self._send(ws, client))
        try:
            await ws.send_str(serde.dumps({"type": "hello", "queue_messages": self.queue_messages}))
            async for message in ws:
                if message.type == WSMsgType.ERROR:
                    break
        finally:
            self.disconnect(client)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
            await ws.close()
        return ws

    @staticmethod
    async def _send(ws: web.WebSocketResponse, client: LiveClient) -> None:
        while not ws.closed:
            message = await client.queue.get()
            try:
                await ws.send_str(message)
            except (ConnectionError, RuntimeError):
                return  # the browser went away; the handler notices and cleans up
            client.sent += 1
