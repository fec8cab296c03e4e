"""Authentication and topic ACLs for the embedded broker (amqtt), backed by the device registry.

* :class:`RegistryPlugin` (an amqtt auth and topic plugin): a CONNECT is accepted only with the
  current MQTT password of an active principal; each publish and subscription is checked against
  :func:`gateway.registry.acl.rules_for` (the grants mosquitto enforces through dynamic security).
* :class:`GuardedBroker` (amqtt's broker, two changes): it authenticates a CONNECT *before* acting on
  its client id (amqtt itself lets a refused client take over and empty the session of the client
  whose id it claims), and it makes the username the client id (mosquitto's
  ``use_username_as_clientid``), so one identity has one session. It also watches the registry and
  disconnects a client whose identity was revoked or whose password was rotated: revocation takes
  effect without a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from amqtt.broker import Broker
from amqtt.contexts import Action
from amqtt.errors import AMQTTError, MQTTError, NoDataError
from amqtt.mqtt.protocol.broker_handler import BrokerProtocolHandler
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin
from amqtt.session import Session

from gateway.registry.acl import Access, Rule, permits, rules_for
from gateway.registry.records import Principal
from gateway.registry.store import SqliteRegistry

log = logging.getLogger(__name__)

#: Seconds between checks of the registry for revocations and rotations.
WATCH_INTERVAL_S = 0.5


class RegistryView:
    """The registry as the broker needs it: passwords checked in the file, grants from a cache
    refreshed whenever the registry's change counter moves. One per registry file and process."""

    _views: ClassVar[dict[Path, RegistryView]] = {}
    _views_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, store: SqliteRegistry) -> None:
        self.store = store
        self._version = -1
        self._principals: dict[str, Principal] = {}
        self.refresh()

    @classmethod
    def for_path(cls, path: Path) -> RegistryView:
        with cls._views_lock:
            view = cls._views.get(path.resolve())
            if view is None:
                if not path.exists():
                    raise FileNotFoundError(f"the device registry {path} does not exist (enrol with `iomt devices`)")
                view = cls._views[path.resolve()] = RegistryView(SqliteRegistry(path))
            return view

    def refresh(self) -> set[str]:
        """Reload if the registry changed; the names whose credentials changed or were revoked."""
        version = self.store.version()
        if version == self._version:
            return set()
        fresh = {p.name: p for p in self.store.principals()}
        changed = {
            name for name, old in self._principals.items()
            if (new := fresh.get(name)) is None or not new.active or new.generation != old.generation
        }
        self._principals, self._version = fresh, version
        return changed

    def authenticate(self, username: str | None, password: str | None) -> Principal | None:
        if not username or password is None:
            return None
        principal = self.store.authenticate(username, password)
        if principal is not None:
            self._principals[principal.name] = principal
        return principal

    def rules(self, username: str | None) -> tuple[Rule, ...]:
        principal = self._principals.get(username or "")
        return rules_for(principal) if principal is not None else ()


class RegistryPlugin(BaseAuthPlugin, BaseTopicPlugin):
    """amqtt plugin: registry passwords and registry ACLs (see the module docstring)."""

    @dataclass
    class Config:
        registry: str = "var/registry.sqlite"
        """The registry's SQLite file."""

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        self.view = RegistryView.for_path(Path(self.config.registry))

    async def authenticate(self, *, session: Session) -> bool | None:
        principal = await asyncio.to_thread(self.view.authenticate, session.username, session.password)
        if principal is None:
            log.info("refused MQTT client %r: unknown user, wrong password or revoked", session.username)
        return principal is not None

    async def topic_filtering(
        self, *, session: Session | None = None, topic: str | None = None, action: Action | None = None
    ) -> bool | None:
        if action == Action.RECEIVE:
            return True  # what a client receives is bounded by what it may subscribe to
        if session is None or not topic:
            return False
        access = Access.PUBLISH if action == Action.PUBLISH else Access.SUBSCRIBE
        allowed = permits(self.view.rules(session.username), access, topic)
        if not allowed:
            log.info("refused %s of %r to %r", access, session.username, topic)
        return allowed


class GuardedBroker(Broker):
    """amqtt's broker, authenticating before it acts on a client id, with one session per identity,
    and disconnecting revoked identities (see the module docstring)."""

    def __init__(self, config: dict[str, Any], registry: Path) -> None:
        super().__init__(config)
        self.view = RegistryView.for_path(registry)
        self._watcher: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await super().start()
        self._watcher = asyncio.get_running_loop().create_task(self._watch(), name="registry-watch")

    async def shutdown(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        await super().shutdown()

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(WATCH_INTERVAL_S)
            try:
                changed = await asyncio.to_thread(self.view.refresh)
            except Exception:  # a locked or vanished file must not end the watch
                log.exception("could not read the device registry; revocations wait for the next check")
                continue
            for session, handler in list(self._sessions.values()):
                if session.username in changed and session.transitions.is_connected():
                    log.info("disconnecting %r: its credentials were revoked or rotated", session.username)
                    await handler.stop()

    async def _initialize_client_session(
        self, reader: Any, writer: Any, remote_address: str, remote_port: int
    ) -> tuple[BrokerProtocolHandler, Session]:
        """amqtt's own, with authentication first and the username as the client id."""
        try:
            handler, session = await BrokerProtocolHandler.init_from_connect(reader, writer, self.plugins_manager)
        except AMQTTError as exc:
            raise AMQTTError(exc) from exc
        except MQTTError as exc:
            await writer.close()
            raise MQTTError(exc) from exc
        except NoDataError as exc:
            raise AMQTTError(exc) from exc
        if not await self._authenticate(session, None):
            handler.attach(session, reader, writer)
            await handler.mqtt_connack_authorize(False)
            await writer.close()
            raise AMQTTError(f"refused the CONNECT of {session.username!r} from {remote_address}")
        session.client_id = session.username
        if session.clean_session:
            await self._delete_session(session.client_id)
            session.parent = 0
        elif session.client_id in self._sessions:
            existing, _ = self._sessions[session.client_id]
            for attr in ("will_flag", "will_message", "will_topic", "will_qos", "keep_alive", "username", "password"):
                setattr(existing, attr, getattr(session, attr))
            session = existing
            session.parent = 1
        else:
            session.parent = 0
        delay = self.config.get("timeout-disconnect-delay", 0)
        if session.keep_alive > 0 and isinstance(delay, int):
            session.keep_alive += delay
        return handler, session
