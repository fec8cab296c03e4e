"""Credentials for tests that talk to a running gateway: users of each role with API tokens, and edge
uplink tokens, created in the gateway's own state file (as `iomt users` / the registry would)."""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.auth.context import EDGE_AUTHORITY, USERS
from gateway.auth.edges import EdgeTokens
from gateway.auth.roles import Role
from gateway.server import RunningGateway
from iomt.wire.uplink import CONTENT_TYPE, NODE_HEADER

PASSWORD = "correct horse battery staple"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Keys:
    """Tokens for a gateway, made on first use: ``keys.user("nurse-ann", Role.CLINICIAN)`` -> headers."""

    gw: RunningGateway
    _users: dict[str, str] = field(default_factory=dict)
    _edges: dict[str, str] = field(default_factory=dict)

    def token(self, name: str, role: Role = Role.VIEWER) -> str:
        if name not in self._users:
            users = self.gw.app[USERS]
            if users.get(name) is None:
                users.add(name, role, PASSWORD)
            self._users[name] = users.issue_token(name, "test", 3600).secret
        return self._users[name]

    def user(self, name: str, role: Role = Role.VIEWER) -> dict[str, str]:
        """``Authorization`` headers of ``name`` (created with ``role`` if new)."""
        return bearer(self.token(name, role))

    def role(self, role: Role) -> dict[str, str]:
        """Headers of a user that has exactly ``role``."""
        return self.user(f"{role.value}-user", role)

    def edge_token(self, node: str) -> str:
        if node not in self._edges:
            authority = self.gw.app[EDGE_AUTHORITY]
            assert isinstance(authority, EdgeTokens)
            self._edges[node] = authority.issue(node)
        return self._edges[node]

    def edge(self, node: str = "edge-1") -> dict[str, str]:
        """Headers of an uplink request from ``node`` with its own token."""
        return {**bearer(self.edge_token(node)), "Content-Type": CONTENT_TYPE, NODE_HEADER: node}
