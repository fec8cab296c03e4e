"""AvailabilityState: what an edge node says about itself on its retained availability topic.

``topics.availability(site, node)`` carries ``online`` (published on connect, retained) or ``offline``
(the last will, and published on a clean stop). An empty retained payload clears the topic: the node
was decommissioned, which is neither.
"""

from __future__ import annotations

from enum import StrEnum

from iomt.wire.errors import DecodeError


class AvailabilityState(StrEnum):
    """What an edge node announces: reachable, or gone (last will or clean stop)."""

    ONLINE = "online"
    OFFLINE = "offline"

    @property
    def payload(self) -> bytes:
        """The message body that announces this state."""
        return self.value.encode()


def decode_availability(payload: bytes) -> AvailabilityState:
    """Decode an availability payload; raise :class:`DecodeError` (field ``availability``) for anything else."""
    try:
        return AvailabilityState(payload.decode())
    except (UnicodeDecodeError, ValueError):
        known = " or ".join(repr(a.value) for a in AvailabilityState)
        raise DecodeError("availability", f"{bytes(payload[:32])!r} is not {known}") from None
