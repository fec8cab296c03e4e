"""The edge's MQTT client survives any bytes from the broker (issue 12, point 6).

A real broker never sends a non-UTF-8 topic or a cut packet, so a scripted one does: a TCP server
on a free port that speaks just enough MQTT 3.1.1 to accept the client and then sends the bytes
under test. A PUBLISH with a non-UTF-8 topic reaches the handler (its bad bytes escaped, so the
edge dead-letters it) and is acknowledged; a malformed packet makes the client reconnect."""

from __future__ import annotations

import queue
import socket
import threading
from collections.abc import Iterator

import pytest

from iomt.config import MqttConfig
from iomt.transport import ReceivedMessage
from iomt.transport import mqtt_codec as codec
from iomt.transport.bulk_mqtt import BulkMqttBus


class ScriptedBroker:
    """Accepts connections; after CONNACK and SUBACK sends each connection's scripted bytes and
    records the packets the client sends back."""

    def __init__(self, scripts: list[bytes]) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.scripts = scripts
        self.connections = 0
        self.received: queue.Queue[tuple[int, int, bytes]] = queue.Queue()  # (connection, type, body)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        for script in self.scripts:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._talk, args=(conn, self.connections, script), daemon=True).start()

    def _talk(self, conn: socket.socket, number: int, script: bytes) -> None:
        buf = bytearray()
        sent_script = False
        with conn:
            while True:
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                buf += data
                packets, used = codec.split(buf)
                for first, start, end in packets:
                    body = bytes(buf[start:end])
                    self.received.put((number, first & 0xF0, body))
                    if first & 0xF0 == codec.CONNECT:
                        conn.sendall(b"\x20\x02\x00\x00")
                    elif first == codec.SUBSCRIBE:
                        conn.sendall(b"\x90\x03" + body[:2] + b"\x01")
                        if not sent_script:
                            sent_script = True
                            conn.sendall(script)
                del buf[:used]

    def close(self) -> None:
        self.server.close()


def publish_raw(topic: bytes, payload: bytes, mid: int) -> bytes:
    body = len(topic).to_bytes(2, "big") + topic + mid.to_bytes(2, "big") + payload
    return bytes((0x32,)) + codec.remaining_length(len(body)) + body


@pytest.fixture
def bus_factory() -> Iterator[list[BulkMqttBus]]:
    buses: list[BulkMqttBus] = []
    yield buses
    for bus in buses:
        bus.stop()


def test_a_non_utf8_topic_is_delivered_escaped_and_acknowledged(bus_factory: list[BulkMqttBus]) -> None:
    broker = ScriptedBroker([publish_raw(b"iomt/v1/ward/dev\xff/ecg", b"bad", 7)
                             + publish_raw(b"iomt/v1/ward/dev-1/ecg", b"good", 8)])
    got: queue.Queue[ReceivedMessage] = queue.Queue()
    bus = BulkMqttBus(MqttConfig(url=f"mqtt://127.0.0.1:{broker.port}"), "robust-1")
    bus_factory.append(bus)
    bus.subscribe("iomt/v1/#", got.put)
    bus.start()
    try:
        first, second = got.get(timeout=10), got.get(timeout=10)
        assert first.topic == "iomt/v1/ward/dev\\xff/ecg" and first.payload == b"bad"
        assert second.topic == "iomt/v1/ward/dev-1/ecg" and second.payload == b"good"
        acked = set()
        while len(acked) < 2:
            _conn, kind, body = broker.received.get(timeout=10)
            if kind == codec.PUBACK:
                acked.add(int.from_bytes(body, "big"))
        assert acked == {7, 8}
        assert bus.connected and broker.connections == 1 and bus.stats.disconnects == 0
    finally:
        broker.close()


@pytest.mark.parametrize("garbage", [
    b"\x32\x03\x00\x09a",  # topic length runs past the packet
    b"\x40\x01\x00",  # PUBACK without a whole packet id
    b"\x20\x02\x00\x00",  # a second CONNACK
    b"\x30\xff\xff\xff\xff\x7f",  # remaining length longer than four bytes
])
def test_a_malformed_packet_reconnects_and_delivery_goes_on(garbage: bytes, bus_factory: list[BulkMqttBus]) -> None:
    broker = ScriptedBroker([garbage, publish_raw(b"iomt/v1/ward/dev-1/ecg", b"after", 9)])
    got: queue.Queue[ReceivedMessage] = queue.Queue()
    bus = BulkMqttBus(MqttConfig(url=f"mqtt://127.0.0.1:{broker.port}", reconnect_max_s=0.2), "robust-2")
    bus_factory.append(bus)
    bus.subscribe("iomt/v1/#", got.put)
    bus.start()
    try:
        message = got.get(timeout=15)
        assert message.payload == b"after"
        assert broker.connections == 2 and bus.stats.disconnects == 1
    finally:
        broker.close()
