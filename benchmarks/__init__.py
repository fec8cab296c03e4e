"""Benchmarks of every tier; each module's ``register(targets)`` adds its ``iomt bench`` target."""
