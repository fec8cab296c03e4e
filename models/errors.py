"""The error every part of :mod:`models` raises when a model cannot be used."""

from __future__ import annotations


class ModelError(Exception):
    """A model file or its metadata cannot be used; the message says which and why, and what to do."""
