"""One MQTT connection per simulated device, each with its own credentials, as real devices have.

A fleet publishes through one :class:`iomt.transport.MessageBus`; :class:`DeviceLinks` is that bus
for a broker that authenticates devices: it routes each publish to the connection of the device
its topic names, so every device is seen by the broker (and its ACLs) as itself. The credentials
come from a JSON file written when the devices were enrolled::

    {"devices": {"patient-0001": {"username": "patient-0001", "password": "...",
                                  "key_id": 1, "key": "<64 hex digits>"}, ...}}

``key_id``/``key`` (optional) are the device's end-to-end key from the registry
(:func:`load_device_keys`): imaging devices seal their images with it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from iomt.config import MqttConfig
from iomt.transport import Delivery, Handler, ReceivedMessage, TransportError
from iomt.transport.mqtt import MqttBus
from iomt.wire import topics


class CredentialsError(ValueError):
    """The device credentials file is missing, malformed or lacks a device; the message says which."""


def _devices(path: Path, shape_hint: str = "") -> dict[str, Any]:
    """The ``devices`` object of the credentials file at ``path``; ``shape_hint`` ends the error that
    a file without one gets."""
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise CredentialsError(f"cannot read the device credentials {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise CredentialsError(f"the device credentials {path} are not JSON: {exc}") from None
    devices = data.get("devices") if isinstance(data, dict) else None
    if not isinstance(devices, dict):
        raise CredentialsError(f'the device credentials {path} need a "devices" object{shape_hint}')
    return devices


def load_device_credentials(path: Path) -> dict[str, tuple[str, SecretStr]]:
    """``{device: (username, password)}`` from ``path`` (see the module docstring)."""
    devices = _devices(path, ': {"<id>": {"username", "password"}}')
    out: dict[str, tuple[str, SecretStr]] = {}
    for device, entry in devices.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("username"), str) \
                or not isinstance(entry.get("password"), str):
            raise CredentialsError(f'{path}: device {device!r} needs a string "username" and "password"')
        out[device] = (entry["username"], SecretStr(entry["password"]))
    return out


def load_device_keys(path: Path) -> dict[str, tuple[int, bytes]]:
    """``{device: (key_id, key)}`` of every device in ``path`` that has an end-to-end key."""
    devices = _devices(path)
    out: dict[str, tuple[int, bytes]] = {}
    for device, entry in devices.items():
        if not isinstance(entry, dict) or entry.get("key") is None:
            continue
        key_id, key = entry.get("key_id"), entry.get("key")
        try:
            raw = bytes.fromhex(key) if isinstance(key, str) else b""
        except ValueError:
            raw = b""
        if type(key_id) is not int or key_id < 1 or len(raw) != 32:
            # the key itself is never shown
            raise CredentialsError(f'{path}: device {device!r} needs "key_id" (an integer >= 1) and "key" (64 hex '
                                   "digits) together")
        out[device] = (key_id, raw)
    return out


class DeviceLinks:
    """A :class:`iomt.transport.MessageBus` of one paho connection per device (publish only)."""

    def __init__(self, base: MqttConfig, credentials: dict[str, tuple[str, SecretStr]], devices: Iterable[str]) -> None:
        wanted = list(dict.fromkeys(devices))
        missing = [d for d in wanted if d not in credentials]
        if missing:
            shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
            raise CredentialsError(f"no credentials for device(s) {shown}: enrol them (`iomt devices enrol`) and add "
                                   "them to the credentials file")
        self._buses = {
            d: MqttBus(base.model_copy(update={"username": credentials[d][0], "password": credentials[d][1]}), d)
            for d in wanted
        }

    def start(self, timeout: float = 10.0) -> DeviceLinks:
        started: list[MqttBus] = []
        try:
            for bus in self._buses.values():
                started.append(bus.start(timeout=timeout))
        except TransportError:
            for bus in started:
                bus.stop()
            raise
        return self

    def _bus(self, topic: str) -> MqttBus:
        parts = topic.split("/")
        device = parts[3] if len(parts) > 3 and topic.startswith(topics.PREFIX + "/") else None
        bus = self._buses.get(device or "")
        if bus is None:
            raise TransportError(f"no device connection for topic {topic!r}")
        return bus

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> Delivery:
        return self._bus(topic).publish(topic, payload, qos, retain)

    def publish_many(self, messages: Sequence[tuple[str, bytes, int]], retain: bool = False) -> Sequence[Delivery]:
        return [self.publish(topic, payload, qos, retain) for topic, payload, qos in messages]

    def subscribe(self, topic_filter: str, handler: Handler, qos: int = 1) -> None:
        raise TransportError("simulated devices subscribe to nothing (their ACL forbids it)")

    def ack(self, message: ReceivedMessage) -> None:
        return None

    def ack_many(self, messages: list[ReceivedMessage]) -> None:
        return None

    def stop(self) -> None:
        for bus in self._buses.values():
            bus.stop()
