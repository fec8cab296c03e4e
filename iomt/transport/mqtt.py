"""MQTT transport on paho-mqtt. The only module in the project that imports paho.

* QoS 1 by default; unlimited local queue, so publishes made while disconnected are sent (and
  QoS 1 ones resent) after the reconnect.
* Reconnects on its own with exponential backoff capped at ``MqttConfig.reconnect_max_s``, and
  resubscribes every filter on each (re)connect.
* Optional retained availability: "online" on connect, "offline" as last will and on clean stop.
* Optional manual acknowledgement: the broker gets the PUBACK only when the application calls
  :meth:`MqttBus.ack`, e.g. after a durable commit, which makes delivery at-least-once end to end.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from iomt.config import MqttConfig
from iomt.transport import (
    MAX_PENDING,
    PENDING_WAIT_S,
    Availability,
    BusStats,
    Handler,
    ReceivedMessage,
    TrackedDelivery,
    TransportError,
    backpressure_timeout,
    connect_timeout,
    refused,
    tls_failed,
)

log = logging.getLogger(__name__)

__all__ = ["MAX_PENDING", "Availability", "MqttBus", "TransportError"]


class MqttBus:
    """A connected MQTT client implementing :class:`iomt.transport.MessageBus`."""

    def __init__(
        self,
        config: MqttConfig,
        client_id: str,
        *,
        clean_session: bool = True,
        availability: Availability | None = None,
        manual_ack: bool = False,
    ) -> None:
        self.config = config
        self.client_id = client_id
        self._availability = availability
        self._subscriptions: dict[str, tuple[Handler, int]] = {}
        self._lock = threading.Lock()
        self._connected = threading.Event()
        self._connect_error: str | None = None
        self._refusal: TransportError | None = None  # the broker (or TLS) said no: waiting will not help
        self._sub_mids: dict[int, str] = {}
        self._manual_ack = manual_ack
        self._stopping = False
        self._pending: dict[int, TrackedDelivery] = {}
        self._early: set[int] = set()
        self._delivery_cond = threading.Condition(threading.RLock())
        self._waiters = 0
        self.stats = BusStats()
        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=clean_session,
            protocol=paho.MQTTv311,
            manual_ack=manual_ack,
        )
        client.reconnect_delay_set(min_delay=1, max_delay=max(1, round(config.reconnect_max_s)))
        client.max_inflight_messages_set(config.max_inflight)
        client.max_queued_messages_set(0)
        if config.username is not None:
            password = config.password.get_secret_value() if config.password else None
            client.username_pw_set(config.username, password)
        if config.use_tls:
            client.tls_set(
                ca_certs=str(config.tls.ca_file) if config.tls.ca_file else None,
                certfile=str(config.tls.cert_file) if config.tls.cert_file else None,
                keyfile=str(config.tls.key_file) if config.tls.key_file else None,
                cert_reqs=ssl.CERT_REQUIRED,
            )
            client.tls_insecure_set(config.tls.insecure)
        if availability is not None:
            client.will_set(availability.topic, availability.offline, qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_unmatched
        client.on_publish = self._on_publish
        client.on_subscribe = self._on_subscribe
        if config.use_tls:
            # until the first CONNACK: paho retries a failed TLS session silently, but logs why
            client.on_log = self._on_paho_log
        self._client = client

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self, wait: bool = True, timeout: float = 10.0) -> MqttBus:
        """Connect in the background; with ``wait``, block until connected or raise TransportError.

        With ``wait``, a failed TLS handshake (wrong CA, expired certificate, wrong host) and a
        refused CONNECT (bad credentials, revoked identity) raise at once, naming the reason,
        instead of being retried until ``timeout``; an unreachable broker is retried.
        """
        if wait and self.config.use_tls:
            self._check_tls(timeout)
        try:
            self._client.connect_async(self.config.host, self.config.port, keepalive=self.config.keepalive_s)
        except (OSError, ValueError) as exc:
            raise TransportError(f"cannot start MQTT connection to {self.config.url}: {exc}") from exc
        self._client.loop_start()
        if wait and not self._wait_connected_or_refused(timeout):
            self._client.loop_stop()
            if self._refusal is not None:
                raise self._refusal
            raise connect_timeout(self.config.url, timeout, self._connect_error)
        return self

    def _check_tls(self, timeout: float) -> None:
        """One TLS handshake with the broker, as paho will make it, to name a certificate problem
        (paho retries a failed handshake silently). An unreachable broker is left to the retries."""
        tls = self.config.tls
        context = ssl.create_default_context(cafile=str(tls.ca_file) if tls.ca_file else None)
        if tls.cert_file:
            context.load_cert_chain(str(tls.cert_file), str(tls.key_file) if tls.key_file else None)
        if tls.insecure:
            context.check_hostname = False
        try:
            with socket.create_connection((self.config.host, self.config.port), timeout=min(timeout, 10.0)) as raw, \
                    context.wrap_socket(raw, server_hostname=self.config.host):
                pass
        except ssl.SSLError as exc:
            raise tls_failed(self.config.url, exc) from None
        except OSError as exc:
            self._connect_error = str(exc)

    def _wait_connected_or_refused(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self._connected.wait(0.05):
            if self._refusal is not None or time.monotonic() > deadline:
                return False
        return True

    def wait_connected(self, timeout: float | None = None) -> bool:
        return self._connected.wait(timeout)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def stop(self) -> None:
        """Publish "offline" (when availability is set), flush, disconnect and stop the thread."""
        self._stopping = True
        if self._availability is not None and self.connected:
            self.publish(self._availability.topic, self._availability.offline, qos=1, retain=True).wait(2.0)
        self._client.disconnect()
        self._client.loop_stop()
        self._connected.clear()

    def __enter__(self) -> MqttBus:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- messaging -----------------------------------------------------------------------------
    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> TrackedDelivery:
        """Queue a message; it is sent now, or after the reconnect when offline.

        At most :data:`MAX_PENDING` messages wait for the broker (MQTT message ids are 16-bit):
        beyond that, publishing blocks until the broker catches up — back-pressure instead of
        an unbounded queue — and raises :class:`TransportError` if it does not within
        ``PENDING_WAIT_S``.
        """
        if len(self._pending) >= MAX_PENDING:
            self._wait_for_room(topic)
        delivery = TrackedDelivery(self._wait_delivery)
        # Not under our lock: paho calls on_publish holding its own mutex, which publish() takes too.
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            raise TransportError(f"publish to {topic} failed: {paho.error_string(info.rc)}")
        with self._delivery_cond:
            if info.mid in self._early:  # acknowledged before publish() returned
                self._early.discard(info.mid)
                delivery.published = True
            else:
                self._pending[info.mid] = delivery
        self.stats.published += 1
        return delivery

    def publish_many(self, messages: Sequence[tuple[str, bytes, int]], retain: bool = False) -> list[TrackedDelivery]:
        """:meth:`publish` for each ``(topic, payload, qos)``."""
        return [self.publish(topic, payload, qos, retain) for topic, payload, qos in messages]

    def _wait_for_room(self, topic: str) -> None:
        self.stats.backpressure_waits += 1
        with self._delivery_cond:
            self._waiters += 1
            try:
                room = self._delivery_cond.wait_for(lambda: len(self._pending) < MAX_PENDING // 2, PENDING_WAIT_S)
            finally:
                self._waiters -= 1
        if not room:
            raise backpressure_timeout(topic, len(self._pending), self.config.url)

    def _wait_delivery(self, delivery: TrackedDelivery, timeout: float | None) -> bool:
        with self._delivery_cond:
            self._waiters += 1
            try:
                return self._delivery_cond.wait_for(lambda: delivery.published, timeout)
            finally:
                self._waiters -= 1

    def subscribe(self, topic_filter: str, handler: Handler, qos: int = 1) -> None:
        """Deliver messages matching ``topic_filter`` to ``handler`` (on the network thread)."""
        with self._lock:
            self._subscriptions[topic_filter] = (handler, qos)
        self._client.message_callback_add(topic_filter, self._wrap(handler))
        if self.connected:
            self._subscribe(self._client, topic_filter, qos)

    def ack(self, message: ReceivedMessage) -> None:
        """Acknowledge a message received with manual acknowledgement."""
        if self._manual_ack and message.qos > 0:
            self._client.ack(message.mid, message.qos)

    def ack_many(self, messages: list[ReceivedMessage]) -> None:
        for message in messages:
            self.ack(message)

    # -- paho callbacks ------------------------------------------------------------------------
    def _wrap(self, handler: Handler) -> Callable[[paho.Client, Any, paho.MQTTMessage], None]:
        def on_message(_client: paho.Client, _userdata: Any, msg: paho.MQTTMessage) -> None:
            self.stats.received += 1
            message = ReceivedMessage(msg.topic, bytes(msg.payload), msg.qos, bool(msg.retain), msg.mid)
            try:
                handler(message)
            except Exception:  # a bad handler must not kill the network thread
                self.stats.handler_errors += 1
                log.exception("handler for %s failed", msg.topic)
                if self._manual_ack:
                    self.ack(message)

        return on_message

    def _on_publish(self, _client: paho.Client, _userdata: Any, mid: int, _reason: Any, _props: Any) -> None:
        with self._delivery_cond:
            delivery = self._pending.pop(mid, None)
            if delivery is None:
                self._early.add(mid)
                return
            delivery.published = True
            if self._waiters:
                self._delivery_cond.notify_all()

    def _on_paho_log(self, _client: paho.Client, _userdata: Any, level: int, text: str) -> None:
        if level == paho.MQTT_LOG_ERR and "SSL" in text and not self.connected:
            self._refusal = tls_failed(self.config.url, text)

    def _subscribe(self, client: paho.Client, topic_filter: str, qos: int) -> None:
        _rc, mid = client.subscribe(topic_filter, qos)
        if mid is not None:
            with self._lock:
                self._sub_mids[mid] = topic_filter

    def _on_subscribe(self, _client: paho.Client, _userdata: Any, mid: int, reasons: list[ReasonCode],
                      _props: Any) -> None:
        with self._lock:
            topic_filter = self._sub_mids.pop(mid, "?")
        for reason in reasons:
            if reason.is_failure:
                log.error("the MQTT broker %s refused the subscription to %s (%s); check this identity's ACL",
                          self.config.url, topic_filter, reason)

    def _on_unmatched(self, _client: paho.Client, _userdata: Any, msg: paho.MQTTMessage) -> None:
        if self._manual_ack and msg.qos > 0:
            self._client.ack(msg.mid, msg.qos)

    def _on_connect(
        self, client: paho.Client, _userdata: Any, _flags: Any, reason: ReasonCode, _props: Any
    ) -> None:
        if reason.is_failure:
            first = self._connect_error != str(reason)
            self._connect_error = str(reason)
            self._refusal = refused(self.config.url, str(reason))
            # once at ERROR; the retries that follow (every reconnect_max_s) at DEBUG
            log.log(logging.ERROR if first else logging.DEBUG, "%s", self._refusal)
            return
        self._refusal = None
        self._connect_error = None
        client.on_log = None  # formatting every packet's log line costs CPU on the hot path
        self.stats.connects += 1
        with self._lock:
            subscriptions = list(self._subscriptions.items())
        for topic_filter, (_handler, qos) in subscriptions:
            self._subscribe(client, topic_filter, qos)
        if self._availability is not None:
            self.publish(self._availability.topic, self._availability.online, qos=1, retain=True)
        log.info("connected to %s as %s", self.config.url, self.client_id)
        self._connected.set()

    def _on_disconnect(
        self, _client: paho.Client, _userdata: Any, _flags: Any, reason: ReasonCode, _props: Any
    ) -> None:
        if self._connected.is_set() and not self._stopping:
            self.stats.disconnects += 1
            log.warning("disconnected from %s (%s); reconnecting", self.config.url, reason)
        self._connected.clear()
