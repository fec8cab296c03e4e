"""Clinical scores computed from vital signs, shared by the gateway (serving) and the cloud tier
(labels and reports for the vitals risk model). Pure functions; no I/O."""
