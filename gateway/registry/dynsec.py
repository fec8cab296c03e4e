"""mosquitto's dynamic security plugin: the registry's broker driver, and the plugin's first config.

The driver sends commands to ``$CONTROL/dynamic-security/v1`` as the plugin's admin client and reads
the answers on ``.../response``: a change is live at once, and ``deleteClient`` (revocation) and
``setClientPassword`` (rotation) disconnect a connected client. Each principal gets a role of its
own, ``iomt-<name>``, holding exactly the grants of :func:`gateway.registry.acl.rules_for`.

:func:`dynsec_document` writes the plugin's JSON for a broker's first start (compose's init, tests),
from the hashes the registry holds — mosquitto uses the same PBKDF2-SHA512 format.
"""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import uuid
from typing import Any

from gateway.registry.acl import Access, Rule, rules_for
from gateway.registry.brokers import BrokerSyncError
from gateway.registry.hashing import parse_hash
from gateway.registry.records import Principal
from iomt.config import MqttConfig
from iomt.transport import ReceivedMessage, TransportError

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC = f"{CONTROL_TOPIC}/response"
#: The role of the registry's own admin client: the control topic only, no application topic.
ADMIN_ROLE = "iomt-dynsec-admin"


def role_name(principal: Principal) -> str:
    return f"iomt-{principal.name}"


def _acl(rule: Rule) -> dict[str, Any]:
    acltype = "publishClientSend" if rule.access is Access.PUBLISH else "subscribePattern"
    return {"acltype": acltype, "topic": rule.pattern, "allow": True, "priority": 0}


def _text(principal: Principal) -> str:
    return f"{principal.kind} of site {principal.site}"


def enrol_commands(principal: Principal, password: str) -> list[dict[str, Any]]:
    role = role_name(principal)
    commands: list[dict[str, Any]] = [{"command": "createRole", "rolename": role, "textname": _text(principal)}]
    commands += [{"command": "addRoleACL", "rolename": role, **_acl(r)} for r in rules_for(principal)]
    commands.append({
        "command": "createClient", "username": principal.name, "password": password,
        "textname": _text(principal), "roles": [{"rolename": role, "priority": 0}],
    })
    return commands


def revoke_commands(principal: Principal) -> list[dict[str, Any]]:
    return [{"command": "deleteClient", "username": principal.name},
            {"command": "deleteRole", "rolename": role_name(principal)}]


class DynsecDriver:
    """Drives a running mosquitto's dynamic security plugin over MQTT as its admin client."""

    def __init__(self, admin: MqttConfig, timeout_s: float = 10.0) -> None:
        if admin.username is None or admin.password is None:
            raise BrokerSyncError("the dynamic-security admin connection needs a username and password "
                                  "(registry.dynsec.username / registry.dynsec.password)")
        self.admin = admin
        self.timeout_s = timeout_s
        self.description = f"mosquitto dynamic security at {admin.url}"

    def enrol(self, principal: Principal, password: str) -> None:
        """Create the principal's role, grants and client. The registry only enrols a name it has never
        held, so a client or role of that name on the broker is a leftover of an enrolment that failed
        half-way: it is removed first. If the broker refuses part of this enrolment, what it did take is
        removed again, so that a retry is not refused by our own leftovers."""
        what = f"enrol {principal.name}"
        self.call(revoke_commands(principal), f"clear leftovers before we {what}", missing_ok=True)
        try:
            self.call(enrol_commands(principal, password), what)
        except BrokerSyncError:
            # the first error is the one to report; the next enrolment clears leftovers anyway
            with contextlib.suppress(BrokerSyncError):
                self.call(revoke_commands(principal), f"undo a refused {what}", missing_ok=True)
            raise

    def set_password(self, principal: Principal, password: str) -> None:
        self.call([{"command": "setClientPassword", "username": principal.name, "password": password}],
                  f"rotate the password of {principal.name}")

    def revoke(self, principal: Principal) -> None:
        self.call(revoke_commands(principal), f"revoke {principal.name}", missing_ok=True)

    def call(self, commands: list[dict[str, Any]], what: str, *, missing_ok: bool = False) -> list[dict[str, Any]]:
        """Send ``commands`` in one message and return the plugin's answers; :class:`BrokerSyncError`
        if it does not answer within the timeout or refuses one (``missing_ok``: "not found" is fine)."""
        from iomt.transport.mqtt import MqttBus

        correlation = uuid.uuid4().hex
        tagged = [{**c, "correlationData": f"{correlation}-{i}"} for i, c in enumerate(commands)]
        answers: dict[str, dict[str, Any]] = {}
        done = threading.Event()

        def on_response(message: ReceivedMessage) -> None:
            try:
                responses = json.loads(message.payload).get("responses", [])
            except (ValueError, AttributeError):
                return
            for response in responses:
                data = str(response.get("correlationData", ""))
                if data.startswith(correlation):
                    answers[data] = response
            if len(answers) >= len(tagged):
                done.set()

        bus = MqttBus(self.admin, client_id=f"iomt-registry-{correlation[:8]}")
        bus.subscribe(RESPONSE_TOPIC, on_response)
        try:
            bus.start(timeout=self.timeout_s)
        except TransportError as exc:
            raise BrokerSyncError(f"cannot {what}: {self.description} is unreachable: {exc}") from None
        try:
            # QoS 1: the subscription is in place before the broker handles the command
            bus.publish(CONTROL_TOPIC, json.dumps({"commands": tagged}).encode(), qos=1).wait(self.timeout_s)
            if not done.wait(self.timeout_s):
                raise BrokerSyncError(
                    f"cannot {what}: {self.description} answered {len(answers)} of {len(tagged)} commands within "
                    f"{self.timeout_s:.0f} s (is the dynamic security plugin loaded, and is "
                    f"{self.admin.username!r} its admin?)"
                )
        finally:
            bus.stop()
        ordered = [answers[t["correlationData"]] for t in tagged]
        for command, answer in zip(commands, ordered, strict=True):
            error = answer.get("error")
            if error and not (missing_ok and "not found" in str(error).lower()):
                raise BrokerSyncError(f"cannot {what}: {self.description} refused {command['command']}: {error}")
        return ordered


def dynsec_document(admin_username: str, admin_hash: str, principals: list[tuple[Principal, str]]) -> dict[str, Any]:
    """The dynamic security plugin's JSON: the admin client (control topic only) and each active
    principal with its hash and its role. Deny by default, as the plugin's own default is."""

    def client(username: str, stored: str, role: str, text: str) -> dict[str, Any]:
        iterations, salt, digest = parse_hash(stored)
        return {
            "username": username, "textname": text, "roles": [{"rolename": role, "priority": 0}],
            "password": base64.b64encode(digest).decode(), "salt": base64.b64encode(salt).decode(),
            "iterations": iterations,
        }

    admin_acls = [{"acltype": t, "topic": "$CONTROL/dynamic-security/#", "priority": 0, "allow": True}
                  for t in ("publishClientSend", "publishClientReceive", "subscribePattern", "unsubscribePattern")]
    roles = [{"rolename": ADMIN_ROLE, "textname": "the device registry", "acls": admin_acls}]
    clients = [client(admin_username, admin_hash, ADMIN_ROLE, "the device registry")]
    for principal, stored in principals:
        if not principal.active:
            continue
        roles.append({"rolename": role_name(principal), "textname": _text(principal),
                      "acls": [_acl(r) for r in rules_for(principal)]})
        clients.append(client(principal.name, stored, role_name(principal), _text(principal)))
    return {
        "clients": clients,
        "groups": [],
        "roles": roles,
        "defaultACLAccess": {"publishClientSend": False, "publishClientReceive": True, "subscribe": False,
                             "unsubscribe": True},
    }
