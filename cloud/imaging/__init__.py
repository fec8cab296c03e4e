"""The cloud side of the lesion segmentation model (``iomt train|export|eval imaging``): its data set of
simulated phantoms, training, int8 export with metadata, and the evaluation report with segmentation
metrics (:mod:`models.segmentation_metrics`) and the real ultrasound images' outputs."""
