"""The device registry as the uplink's :class:`~gateway.auth.edges.EdgeAuthority`.

Where the gateway is given a registry (``[gateway.registry]``, as the demo and compose do), an edge
authenticates with the uplink token the registry issued when it was enrolled (``iomt devices enrol
--kind edge``), and a revoked or rotated edge is refused at once: one identity per edge for the
broker and the uplink. Without a registry, the state file's :class:`~gateway.auth.edges.EdgeTokens`
(``iomt edge-tokens``) serve instead.
"""

from __future__ import annotations

from gateway.registry.records import Kind
from gateway.registry.service import DeviceRegistry


class RegistryEdges:
    """Edges enrolled in ``registry``; only active principals of kind ``edge`` pass."""

    def __init__(self, registry: DeviceRegistry) -> None:
        self.registry = registry

    def edge_for_token(self, token: str) -> str | None:
        principal = self.registry.verify_edge_token(token)
        if principal is None or principal.kind is not Kind.EDGE:
            return None
        return principal.name
