"""The dynamic-security driver against a real mosquitto: an enrolment that failed half-way on the
broker neither survives nor blocks the next enrolment of that name."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from gateway.registry import dynsec
from gateway.registry.brokers import BrokerSyncError
from gateway.registry.dynsec import DynsecDriver
from iomt.transport.mqtt import MqttBus
from tests.security.conftest import SecuredBroker, start_secured


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredBroker]:
    secured = start_secured("mosquitto", tmp_path_factory.mktemp("dynsec-driver"))
    try:
        yield secured
    finally:
        secured.process.stop()


def _driver(broker: SecuredBroker) -> DynsecDriver:
    driver = broker.registry.broker
    assert isinstance(driver, DynsecDriver)
    return driver


def _role_exists(driver: DynsecDriver, role: str) -> bool:
    try:
        driver.call([{"command": "getRole", "rolename": role}], f"look up {role}")
    except BrokerSyncError as exc:
        assert "not found" in str(exc).lower(), exc
        return False
    return True


def test_a_leftover_role_on_the_broker_does_not_block_enrolment(broker: SecuredBroker) -> None:
    driver = _driver(broker)
    driver.call([{"command": "createRole", "rolename": "iomt-ghost-1"}], "plant a leftover role")
    issued = broker.registry.enrol("ghost-1", "device", "ward-a")
    bus = MqttBus(broker.config("ghost-1", issued.password), client_id="ghost-1")
    bus.start(timeout=10)  # connects: the client was created after the leftover was cleared
    bus.stop()


def test_a_refused_enrolment_leaves_nothing_on_the_broker(broker: SecuredBroker,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    real = dynsec.enrol_commands

    def refused_after_the_role(principal: Any, password: str) -> list[dict[str, Any]]:
        # the role is created, then the broker refuses a grant on a role that does not exist
        return [*real(principal, password)[:1],
                {"command": "addRoleACL", "rolename": "no-such-role", "acltype": "publishClientSend",
                 "topic": "x", "allow": True}]

    monkeypatch.setattr(dynsec, "enrol_commands", refused_after_the_role)
    with pytest.raises(BrokerSyncError, match="refused addRoleACL"):
        broker.registry.enrol("half-1", "device", "ward-a")
    assert broker.registry.store.get("half-1") is None
    assert not _role_exists(_driver(broker), "iomt-half-1")
    monkeypatch.setattr(dynsec, "enrol_commands", real)
    issued = broker.registry.enrol("half-1", "device", "ward-a")  # a retry is not refused by leftovers
    assert issued.password


def test_the_role_check_sees_a_role_that_exists(broker: SecuredBroker) -> None:
    broker.registry.enrol("seen-1", "device", "ward-a")
    assert _role_exists(_driver(broker), "iomt-seen-1")  # so the negative check above can fail
