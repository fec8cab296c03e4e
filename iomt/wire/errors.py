"""The single error type raised by every decoder of the wire contract."""

from __future__ import annotations


class DecodeError(ValueError):
    """A payload or topic was rejected.

    ``field`` names the part of the message that was wrong (``"version"``, ``"sample_rate"``,
    ``"samples"``, ``"topic"`` ...) so that dead-letter records and logs say exactly what to fix.
    """

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
