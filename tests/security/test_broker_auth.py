"""Authentication and ACLs at the broker, one suite for both brokers we run (mosquitto with the
dynamic security plugin, and the embedded amqtt broker with the registry plugin), modelled on
mosquitto's own test groups: anonymous and bad credentials refused, a device x topic ACL matrix,
edges confined to their site, forged events and availability refused, revocation and rotation
effective on the running broker (a connected client is disconnected), no session takeover."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from gateway.registry.records import Issued
from iomt.transport import TransportError
from iomt.transport.bulk_mqtt import BulkMqttBus
from iomt.transport.mqtt import MqttBus
from iomt.wire import topics
from tests.security.conftest import SecuredBroker, subscriber

CLIENTS = [MqttBus, BulkMqttBus]


@dataclass
class Cast:
    """The identities of the matrix: two devices and an edge of site s1, a device and an edge of s2, a gateway."""

    dev_a: Issued
    dev_b: Issued
    dev_c: Issued
    edge_a: Issued
    edge_b: Issued
    gateway: Issued


@pytest.fixture(scope="module")
def cast(secured: SecuredBroker) -> Cast:
    r = secured.registry
    return Cast(
        dev_a=r.enrol("dev-a", "device", "s1"), dev_b=r.enrol("dev-b", "device", "s1"),
        dev_c=r.enrol("dev-c", "device", "s2"), edge_a=r.enrol("edge-a", "edge", "s1"),
        edge_b=r.enrol("edge-b", "edge", "s2"), gateway=r.enrol("gw", "gateway", "+"),
    )


def login(secured: SecuredBroker, who: Issued, client: type = MqttBus, **kw: object) -> MqttBus:
    bus = client(secured.config(who.principal.name, who.password), f"client-{who.principal.name}", **kw)
    return bus.start(timeout=10)  # type: ignore[no-any-return]


@pytest.fixture
def observers(secured: SecuredBroker, cast: Cast) -> Iterator[dict[str, object]]:
    """edge-a reading s1's data, edge-b reading s2's, the gateway reading events, availability,
    dead letters and models of every site."""
    edge_a, data_s1 = subscriber(secured.config("edge-a", cast.edge_a.password), topics.data_filter("s1"))
    edge_b, data_s2 = subscriber(secured.config("edge-b", cast.edge_b.password), topics.data_filter("s2"))
    gateway, system = subscriber(
        secured.config("gw", cast.gateway.password), topics.event_filter(), topics.availability_filter(),
        topics.deadletter_filter(), "iomt/v1/+/_models/+",
    )
    yield {"s1": data_s1, "s2": data_s2, "system": system}
    for bus in (edge_a, edge_b, gateway):
        bus.stop()


def settle(bus: MqttBus, marker_topic: str, inbox: object) -> None:
    """Publish an allowed marker after the messages under test and wait for it: the broker handles
    one connection's packets in order, so everything before it has been decided by then."""
    bus.publish(marker_topic, b"marker").wait(5)
    assert inbox.wait_for(marker_topic), f"the marker {marker_topic} never arrived"  # type: ignore[attr-defined]
    time.sleep(0.3)


# -- authentication ---------------------------------------------------------------------------------
@pytest.mark.parametrize("client", CLIENTS)
def test_anonymous_is_refused_with_the_reason(secured: SecuredBroker, client: type) -> None:
    with pytest.raises(TransportError, match=r"(?i)refused the connection: not authori[sz]ed"):
        client(secured.config(), "anonymous").start(timeout=10)


@pytest.mark.parametrize("client", CLIENTS)
def test_wrong_password_and_unknown_user_are_refused(secured: SecuredBroker, cast: Cast, client: type) -> None:
    for username, password in (("dev-a", "not-the-password"), ("dev-a", ""), ("nobody", cast.dev_a.password)):
        started = time.monotonic()
        with pytest.raises(TransportError, match=r"(?i)refused the connection: (not authori[sz]ed|bad user name)"):
            client(secured.config(username, password), "intruder").start(timeout=10)
        assert time.monotonic() - started < 5, "a refusal must be reported at once, not after the timeout"


@pytest.mark.parametrize("client", CLIENTS)
def test_enrolled_identities_connect_with_both_clients(secured: SecuredBroker, cast: Cast, client: type) -> None:
    bus = login(secured, cast.dev_b, client)
    try:
        assert bus.connected
    finally:
        bus.stop()


# -- the device x topic matrix ------------------------------------------------------------------------
DEVICE_DENIED = {
    "another device's data": ("s1", "iomt/v1/s1/dev-b/ecg"),
    "another device's descriptor (its placement)": ("s1", "iomt/v1/s1/dev-b/_descriptor"),
    "its descriptor at another site": ("s2", "iomt/v1/s2/dev-a/_descriptor"),
    "its id at another site": ("s2", "iomt/v1/s2/dev-a/ecg"),
    "events (forged alert)": ("system", "iomt/v1/s1/dev-a/events/ecg"),
    "another device's events": ("system", "iomt/v1/s1/dev-b/events/fall"),
    "an edge's availability (forged offline)": ("system", "iomt/v1/s1/_edge/edge-a/availability"),
    "a ghost edge's availability": ("system", "iomt/v1/s1/_edge/ghost/availability"),
    "dead letters": ("system", "iomt/v1/s1/_deadletter/edge-a"),
    "model manifests": ("system", "iomt/v1/s1/_models/ecg"),
}


@pytest.mark.parametrize("client", CLIENTS)
def test_device_publishes_only_its_own_data(
    secured: SecuredBroker, cast: Cast, observers: dict[str, object], client: type
) -> None:
    device = login(secured, cast.dev_a, client)
    try:
        for _inbox, topic in DEVICE_DENIED.values():
            device.publish(topic, b"forged", qos=1, retain=True).wait(5)
        own = topics.data("s1", "dev-a", "ecg")
        settle(device, own, observers["s1"])
    finally:
        device.stop()
    assert own in observers["s1"].topics()  # type: ignore[attr-defined]
    for what, (inbox, topic) in DEVICE_DENIED.items():
        assert topic not in observers[inbox].topics(), f"a device published to {what} ({topic})"  # type: ignore[attr-defined]


def test_device_publishes_its_own_retained_descriptor_and_not_anothers(secured: SecuredBroker, cast: Cast) -> None:
    """A device declares its placement on its own retained descriptor topic (an edge that subscribes
    later gets it); another device's descriptor it cannot write."""
    own, other = topics.descriptor("s1", "dev-a"), topics.descriptor("s1", "dev-b")
    body = b'{"v":1,"motion":{"placement":"wrist","acc_unit":"g","gyro_unit":"deg/s","axes":"sensor"}}'
    device = login(secured, cast.dev_a)
    try:
        device.publish(other, body, qos=1, retain=True).wait(5)
        device.publish(own, body, qos=1, retain=True).wait(5)
    finally:
        device.stop()
    late = secured.registry.enrol("edge-late", "edge", "s1")
    edge, inbox = subscriber(secured.config("edge-late", late.password), topics.data_filter("s1"))
    try:
        assert inbox.wait_for(own), "the retained descriptor did not reach an edge subscribing after it"
        # (amqtt may hand a retained message to a new subscription twice; the edge takes a repeat once)
        assert {m.payload for m in inbox.messages if m.topic == own} == {body}
        time.sleep(0.5)
        assert other not in inbox.topics()
    finally:
        edge.stop()
        clear = login(secured, cast.dev_a)  # leave no retained message to the tests after this one
        clear.publish(own, b"", qos=1, retain=True).wait(5)
        clear.stop()


@pytest.mark.parametrize("client", CLIENTS)
def test_device_reads_nothing(secured: SecuredBroker, cast: Cast, client: type) -> None:
    listener = client(secured.config("dev-a", cast.dev_a.password), "dev-a")
    heard: list[str] = []
    for topic_filter in ("#", "iomt/v1/s1/+/+", "iomt/v1/s1/dev-b/ecg", "iomt/v1/+/+/events/+"):
        listener.subscribe(topic_filter, lambda m: heard.append(m.topic))
    listener.start(timeout=10)
    other = login(secured, cast.dev_b)
    edge = login(secured, cast.edge_a)
    try:
        time.sleep(0.3)
        other.publish(topics.data("s1", "dev-b", "ecg"), b"x").wait(5)
        edge.publish(topics.event("s1", "dev-b", "ecg"), b"{}").wait(5)
        time.sleep(0.8)
    finally:
        for bus in (listener, other, edge):
            bus.stop()
    assert heard == []


# -- edges --------------------------------------------------------------------------------------------
def test_edge_publishes_events_availability_and_dead_letters_for_its_site_only(
    secured: SecuredBroker, cast: Cast, observers: dict[str, object]
) -> None:
    allowed = [topics.event("s1", "dev-a", "ecg"), topics.availability("s1", "edge-a"),
               topics.deadletter("s1", "edge-a")]
    denied = [
        topics.event("s2", "dev-c", "ecg"),  # another site's events
        topics.availability("s2", "edge-a"),  # its name at another site
        topics.availability("s1", "edge-x"),  # another node's availability
        topics.deadletter("s1", "edge-x"),
        topics.data("s1", "dev-a", "ecg"),  # data is the devices' own
        topics.model_manifest("s1", "ecg"),  # only the gateway ships models
    ]
    edge = login(secured, cast.edge_a)
    try:
        for topic in denied + allowed:
            edge.publish(topic, b"{}", qos=1).wait(5)
        settle(edge, allowed[0], observers["system"])
    finally:
        edge.stop()
    seen = observers["system"].topics() | observers["s1"].topics() | observers["s2"].topics()  # type: ignore[attr-defined]
    assert set(allowed) <= seen
    assert not set(denied) & seen, set(denied) & seen


def test_edge_reads_its_sites_data_and_no_other(secured: SecuredBroker, cast: Cast) -> None:
    edge = MqttBus(secured.config("edge-a", cast.edge_a.password), "edge-a")
    heard: list[str] = []
    for topic_filter in (topics.data_filter("s1"), topics.data_filter("s2"), topics.data_filter("+")):
        edge.subscribe(topic_filter, lambda m: heard.append(m.topic))
    edge.start(timeout=10)
    dev_b, dev_c = login(secured, cast.dev_b), login(secured, cast.dev_c)
    try:
        time.sleep(0.3)
        dev_c.publish(topics.data("s2", "dev-c", "ecg"), b"x").wait(5)
        dev_b.publish(topics.data("s1", "dev-b", "ecg"), b"x").wait(5)
        deadline = time.monotonic() + 5
        while topics.data("s1", "dev-b", "ecg") not in heard and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.5)
    finally:
        for bus in (edge, dev_b, dev_c):
            bus.stop()
    assert topics.data("s1", "dev-b", "ecg") in heard
    assert topics.data("s2", "dev-c", "ecg") not in heard


def test_gateway_ships_models_but_publishes_no_data_or_events(
    secured: SecuredBroker, cast: Cast, observers: dict[str, object]
) -> None:
    gateway_pub = login(secured, cast.gateway)  # the observer fixture holds the gateway's session: reconnects
    try:
        gateway_pub.publish(topics.data("s1", "dev-a", "ecg"), b"x").wait(5)
        gateway_pub.publish(topics.event("s1", "dev-a", "ecg"), b"{}").wait(5)
        model = topics.model_manifest("s1", "ecg")
        gateway_pub.publish(model, b"{}").wait(5)
        assert observers["s1"].wait_for(model)  # type: ignore[attr-defined]  # edges read their site's models
        time.sleep(0.3)
    finally:
        gateway_pub.stop()
    assert topics.data("s1", "dev-a", "ecg") not in observers["s1"].topics()  # type: ignore[attr-defined]


# -- revocation, rotation, takeover --------------------------------------------------------------------
@pytest.mark.parametrize("client", CLIENTS)
def test_revocation_disconnects_at_once_and_refuses_the_next_connection(
    secured: SecuredBroker, cast: Cast, client: type
) -> None:
    name = f"dev-revoked-{client.__name__.lower()}"
    issued = secured.registry.enrol(name, "device", "s1")
    bystander = login(secured, cast.dev_b, client)
    device = login(secured, issued, client)
    edge, inbox = subscriber(secured.config("edge-a", cast.edge_a.password), topics.data_filter("s1"))
    try:
        device.publish(topics.data("s1", name, "ecg"), b"before").wait(5)
        assert inbox.wait_for(topics.data("s1", name, "ecg"))
        secured.registry.revoke(name)
        deadline = time.monotonic() + 5
        while device.connected and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not device.connected, "a revoked client must be disconnected without restarting the broker"
        device.publish(topics.data("s1", name, "acc"), b"after")  # queued; its reconnects are refused
        time.sleep(1.5)  # a reconnect attempt (reconnect_max_s is 1 s)
        assert not device.connected
        assert topics.data("s1", name, "acc") not in inbox.topics()
        assert bystander.connected, "revoking one identity must not disturb another"
        with pytest.raises(TransportError, match=r"(?i)refused the connection"):
            client(secured.config(name, issued.password), "again").start(timeout=10)
    finally:
        for bus in (device, bystander, edge):
            bus.stop()


def test_rotation_retires_the_old_password(secured: SecuredBroker) -> None:
    first = secured.registry.enrol("dev-rotated", "device", "s1")
    second = secured.registry.rotate("dev-rotated")
    assert second.password != first.password and second.principal.generation == 2
    with pytest.raises(TransportError, match=r"(?i)refused the connection"):
        MqttBus(secured.config("dev-rotated", first.password), "old").start(timeout=10)
    login(secured, second).stop()


def test_nobody_takes_over_the_edges_session(secured: SecuredBroker, cast: Cast) -> None:
    """With the client id of the edge, a refused client and another identity get their own (or no)
    session: the edge stays connected."""
    edge = BulkMqttBus(secured.config("edge-a", cast.edge_a.password), "iomt-edge-edge-a", clean_session=False)
    edge.start(timeout=10)
    try:
        with pytest.raises(TransportError):
            MqttBus(secured.config("edge-a", "wrong"), "iomt-edge-edge-a").start(timeout=10)
        other = MqttBus(secured.config("dev-b", cast.dev_b.password), "iomt-edge-edge-a").start(timeout=10)
        time.sleep(0.5)
        other.stop()
        assert edge.connected and edge.stats.disconnects == 0
    finally:
        edge.stop()
