"""The edge's signal processing as plain functions over arrays: no per-device state, no scheduling.

The pipelines (``edge/*_pipeline.py``) keep the buffers and decide which device is due; they call
these. Preprocessing shared with training stays in :mod:`models.preprocessing` (train and serve
must not drift); what is here is only the edge's: quality checks, the R-peak history of short
searches, model-input assembly. (The fall detector's impact screen lives with its logic in
:mod:`models.fall_logic`, shared with training.)
"""
