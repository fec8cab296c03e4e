"""Shared core of the IoMT edge streaming system: the wire contract, MQTT transport, config and CLI.

Every tier (``firmware_sim``, ``edge``, ``gateway``, ``cloud``) depends on this package and on
nothing else in common, so the contract between them lives in exactly one place.
"""

__version__ = "0.1.0"
