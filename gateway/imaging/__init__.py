"""The image store: images sealed end to end by their devices, opened here with the registry's device keys,
kept encrypted at rest with their mask layers, and served to authorised users.

* :mod:`config` — :class:`~gateway.imaging.config.ImagingConfig` (``[gateway.imaging]``);
* :mod:`ingest` — uplink records and lesion events into the store; refusals dead-lettered and counted;
* :mod:`store` — encrypted files + SQLite index (:mod:`atrest`: the storage key);
* :mod:`keys` — device keys from the registry, briefly cached;
* :mod:`records` — what the API returns (serialised by :mod:`gateway.serde`);
* :mod:`routes`, :mod:`openapi` — the API and its roles; :mod:`png` — images and masks as PNG;
* :mod:`service` — opened and closed with the app, hooked into the uplink.
"""
