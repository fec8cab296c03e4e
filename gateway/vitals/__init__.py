"""Vital signs at the gateway: the units table, NEWS2 on ingest, alarm limits, technical alarms, and the
hysteresis that keeps a noisy reading from flapping an alarm. Pure logic; the station service drives it."""
