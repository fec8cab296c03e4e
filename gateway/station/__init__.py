"""The ward's central station: the patient registry, alarm limits, NEWS2 and technical alarms on ingest,
the station and patient views, and their API. See :mod:`gateway.station.service`."""
