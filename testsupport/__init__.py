"""Real services for tests and benchmarks, started on free ports in temporary directories.

``services`` holds one managed-process base and the servers built on it (mosquitto, influxd);
``net`` picks free ports and waits for them. Imports only the core (``iomt``), never a tier.
"""
