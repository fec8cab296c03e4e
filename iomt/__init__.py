"""Shared core of the IoMT edge streaming system: the wire contract (``wire``), the MQTT transport
(``transport``) and the config loader (``config``).

Every tier (``firmware_sim``, ``edge``, ``gateway``, ``cloud``) depends on this package and on
nothing else in common, so the contract between them lives in exactly one place. It imports no tier,
no ``models`` and nothing of the packages above the tiers (``iomt_app``, ``benchmarks``,
``testsupport``); the import-linter contracts in pyproject.toml enforce that.
"""

__version__ = "0.1.0"
