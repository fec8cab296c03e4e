"""Every benchmark of the system, one module per target of ``iomt bench``: each prints its figures,
writes JSON, measures its baseline in the same run, and has ``register(targets)`` for the command line.

Benchmarks may import any tier and ``testsupport`` (the servers they start); nothing imports them but
the application's ``iomt bench`` command.
"""
