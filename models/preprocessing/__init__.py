"""Preprocessing shared by the cloud (training) and the edge (serving): numpy and scipy only."""

#: Bumped whenever a function here changes its output; recorded in model metadata and events.
#: Semantic: a new major version changes an input format, so models built on another major cannot
#: run on it; a minor one changes values within the same formats (1.1.0: the R-peak search of
#: :mod:`models.preprocessing.qrs` finds wide, small and fast beats the 1.0.0 search skipped; the
#: beat vectors and emotion features keep their layout and meaning; 1.1.1: that search also drops
#: waves in the ST segment and minor deflections — P waves, notches after a ventricular beat — that the
#: real-recording R-peak validation showed it counting as beats; 1.2.0: it also drops a candidate tiny
#: against the recent rhythm — non-conducted P waves in the pauses of an AV block — see
#: :data:`models.preprocessing.qrs.TINY_RATIO`; 1.3.0: conditioning takes baseline steps of the front end
#: out at the record's own rate, before resampling — :mod:`models.preprocessing.steps`; nothing changes
#: below 500 Hz).
PREPROCESSING_VERSION = "1.3.0"


def compatible(version: str, running: str = PREPROCESSING_VERSION) -> bool:
    """Whether a model built with preprocessing ``version`` can run on the ``running`` one (same major)."""
    try:
        return int(version.split(".")[0]) == int(running.split(".")[0])
    except ValueError:
        return False
