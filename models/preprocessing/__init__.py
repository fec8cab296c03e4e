"""Preprocessing shared by the cloud (training) and the edge (serving): numpy and scipy only."""

#: Bumped whenever a function here changes its output; recorded in model metadata and events.
PREPROCESSING_VERSION = "1.0.0"
