"""Both MQTT transports (paho and the lean bulk client) against a real mosquitto: delivery,
availability, reconnect and resubscribe, back-pressure, manual acknowledgement."""

from __future__ import annotations

import queue
import subprocess
import sys
import time
import uuid

import pytest

from iomt.config import MqttConfig
from iomt.transport import Availability, ReceivedMessage
from iomt.transport.bulk_mqtt import BulkMqttBus
from iomt.transport.mqtt import MqttBus
from testsupport.services import Mosquitto

Bus = type[MqttBus] | type[BulkMqttBus]


@pytest.fixture(params=[MqttBus, BulkMqttBus], ids=["paho", "bulk"])
def bus_class(request: pytest.FixtureRequest) -> Bus:
    return request.param


def unique_site() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


def collect(bus: MqttBus | BulkMqttBus, topic_filter: str) -> queue.Queue[ReceivedMessage]:
    received: queue.Queue[ReceivedMessage] = queue.Queue()
    bus.subscribe(topic_filter, received.put)
    return received


def test_qos1_messages_arrive_as_frozen_dataclasses(bus_class: Bus, mqtt_config: MqttConfig) -> None:
    site = unique_site()
    with bus_class(mqtt_config, "sub-" + site) as sub, bus_class(mqtt_config, "pub-" + site) as pub:
        received = collect(sub, f"iomt/v1/{site}/#")
        time.sleep(0.2)
        deliveries = [pub.publish(f"iomt/v1/{site}/p1/ecg", bytes([i]), qos=1) for i in range(50)]
        assert all(d.wait(5) for d in deliveries)
        got = [received.get(timeout=5) for _ in range(50)]
    assert [m.payload for m in got] == [bytes([i]) for i in range(50)]
    assert all(isinstance(m, ReceivedMessage) and m.qos == 1 for m in got)


def test_availability_is_retained_and_the_last_will_fires_on_a_crash(bus_class: Bus, mqtt_config: MqttConfig) -> None:
    site = unique_site()
    topic = f"iomt/v1/{site}/_edge/node-x/availability"
    script = (
        "import sys, time\n"
        "from iomt.config import MqttConfig\n"
        "from iomt.transport import Availability\n"
        f"from {bus_class.__module__} import {bus_class.__name__} as Bus\n"
        f"bus = Bus(MqttConfig(url={mqtt_config.url!r}), 'crashy', availability=Availability({topic!r}))\n"
        "bus.start()\n"
        "print('up', flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "up"
        with bus_class(mqtt_config, "watch-" + site) as watcher:
            seen = collect(watcher, topic)
            first = seen.get(timeout=5)
            assert first.payload == b"online" and first.retain  # retained: a late subscriber still sees it
            proc.kill()  # no DISCONNECT packet: the broker must publish the will
            assert seen.get(timeout=10).payload == b"offline"
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def test_clean_stop_publishes_offline(bus_class: Bus, mqtt_config: MqttConfig) -> None:
    site = unique_site()
    topic = f"iomt/v1/{site}/_edge/n/availability"
    with bus_class(mqtt_config, "watch2-" + site) as watcher:
        seen = collect(watcher, topic)
        node = bus_class(mqtt_config, "node-" + site, availability=Availability(topic)).start()
        assert seen.get(timeout=5).payload == b"online"
        node.stop()
        assert seen.get(timeout=5).payload == b"offline"


def test_reconnects_and_resubscribes_after_the_broker_restarts(bus_class: Bus, own_mosquitto: Mosquitto) -> None:
    config = MqttConfig(url=own_mosquitto.url, reconnect_max_s=1.0, keepalive_s=5)
    sub = bus_class(config, "resub").start()
    pub = bus_class(config, "repub").start()
    try:
        received = collect(sub, "iomt/v1/r/+/ecg")
        time.sleep(0.2)
        pub.publish("iomt/v1/r/a/ecg", b"before").wait(5)
        assert received.get(timeout=5).payload == b"before"
        own_mosquitto.kill()
        deadline = time.monotonic() + 5
        while (sub.connected or pub.connected) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not sub.connected
        own_mosquitto.start()  # same port, empty broker: subscriptions must be made again by the client
        assert sub.wait_connected(10) and pub.wait_connected(10)
        time.sleep(0.3)
        assert pub.publish("iomt/v1/r/a/ecg", b"after").wait(5)
        assert received.get(timeout=5).payload == b"after"
        assert sub.stats.connects >= 2
    finally:
        sub.stop()
        pub.stop()


def test_publishes_made_while_offline_are_sent_after_reconnect(bus_class: Bus, own_mosquitto: Mosquitto) -> None:
    config = MqttConfig(url=own_mosquitto.url, reconnect_max_s=1.0)
    pub = bus_class(config, "offline-pub").start()
    try:
        own_mosquitto.kill()
        while pub.connected:
            time.sleep(0.05)
        delivery = pub.publish("iomt/v1/q/a/ecg", b"queued", retain=True)
        assert not delivery.done()
        own_mosquitto.start()
        assert delivery.wait(10)  # PUBACK from the restarted broker: it was resent after the reconnect
        with bus_class(config, "offline-sub") as sub:
            received = collect(sub, "iomt/v1/q/a/ecg")
            assert received.get(timeout=5).payload == b"queued"
    finally:
        pub.stop()


def test_a_publisher_far_ahead_of_a_dead_broker_waits_instead_of_failing(
    bus_class: Bus, own_mosquitto: Mosquitto, monkeypatch: object
) -> None:
    monkeypatch.setattr(sys.modules[bus_class.__module__], "MAX_PENDING", 50)  # type: ignore[attr-defined]
    config = MqttConfig(url=own_mosquitto.url, reconnect_max_s=1.0)
    pub = bus_class(config, "pressure").start()
    try:
        own_mosquitto.kill()
        while pub.connected:
            time.sleep(0.05)
        deliveries = [pub.publish("iomt/v1/p/a/ecg", bytes([i])) for i in range(50)]  # fills the window
        import threading

        more: list[object] = []
        worker = threading.Thread(target=lambda: more.append(pub.publish("iomt/v1/p/a/ecg", b"51")))
        worker.start()
        time.sleep(0.5)
        assert not more and pub.stats.backpressure_waits == 1  # blocked, not failed
        own_mosquitto.start()
        worker.join(15)
        assert more and all(d.wait(10) for d in deliveries)
    finally:
        pub.stop()


def test_an_unacknowledged_message_comes_back_after_a_reconnect(bus_class: Bus, own_mosquitto: Mosquitto) -> None:
    """Manual ack: what the application never acknowledged is redelivered to the persistent session."""
    config = MqttConfig(url=own_mosquitto.url, reconnect_max_s=1.0)
    site = unique_site()
    received: queue.Queue[ReceivedMessage] = queue.Queue()
    sub = bus_class(config, "manual-" + site, clean_session=False, manual_ack=True).start()
    pub = bus_class(config, "manual-pub-" + site).start()
    try:
        sub.subscribe(f"iomt/v1/{site}/#", received.put)
        time.sleep(0.3)
        for payload in (b"kept", b"acked"):
            assert pub.publish(f"iomt/v1/{site}/d/ecg", payload).wait(5)
        first, second = received.get(timeout=5), received.get(timeout=5)
        sub.ack_many([second])
        time.sleep(0.3)
        sub.stop()  # "kept" was never acknowledged
        sub = bus_class(config, "manual-" + site, clean_session=False, manual_ack=True)
        sub.subscribe(f"iomt/v1/{site}/#", received.put)
        sub.start()
        again = received.get(timeout=5)
        assert (first.payload, again.payload) == (b"kept", b"kept")
        sub.ack(again)
        time.sleep(0.5)
        assert received.empty()
    finally:
        sub.stop()
        pub.stop()


def test_publish_many_delivers_a_mixed_batch_in_order(bus_class: Bus, mqtt_config: MqttConfig) -> None:
    site = unique_site()
    with bus_class(mqtt_config, "msub-" + site) as sub, bus_class(mqtt_config, "mpub-" + site) as pub:
        received = collect(sub, f"iomt/v1/{site}/#")
        time.sleep(0.2)
        batch = [(f"iomt/v1/{site}/d{i % 3}/ecg", bytes([i]), i % 2) for i in range(40)]
        deliveries = pub.publish_many(batch)
        assert len(deliveries) == 40 and all(d.wait(5) for d in deliveries)
        got = [received.get(timeout=5) for _ in range(40)]
    assert [(m.topic, m.payload, m.qos) for m in got] == batch
