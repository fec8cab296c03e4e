"""Time-series storage behind one interface (:class:`gateway.store.base.Store`)."""
