"""Phantoms rendered one image ahead, off the publishing thread.

Drawing only visible lesions (:mod:`firmware_sim.imaging.visibility`) redraws an image whose lesion a
reader could not see: an X-ray phantom takes ~0.2 s on average and up to ~1.5 s at 128 px on this CPU.
A fleet publishes every device's frames from one loop, so an imaging device that rendered its image when
it was due would make the other devices' frames late. :class:`RenderAhead` renders the next image in a
background thread as soon as the previous one is taken; with an image every few seconds it is ready long
before it is due.
"""

from __future__ import annotations

import threading

import numpy as np

from firmware_sim.imaging import render_phantom
from firmware_sim.imaging.scene import Phantom, Scanner


class RenderAhead:
    """The phantoms of one scanner, each with a lesion with probability ``lesion_probability``, drawn
    from ``rng`` (which only this object may use: it is drawn from in another thread)."""

    def __init__(self, rng: np.random.Generator, scanner: Scanner, size: int, lesion_probability: float) -> None:
        self._rng, self._scanner, self._size, self._p = rng, scanner, size, lesion_probability
        self._result: Phantom | None = None
        self._error: BaseException | None = None
        self._thread = self._start()

    def _work(self) -> None:
        try:
            lesion = bool(self._rng.random() < self._p)
            self._result = render_phantom(self._rng, self._scanner, self._size, lesion)
        except BaseException as exc:  # re-raised by next() in the caller's thread
            self._error = exc

    def _start(self) -> threading.Thread:
        thread = threading.Thread(target=self._work, name="phantom-ahead", daemon=True)
        thread.start()
        return thread

    def next(self) -> Phantom:
        """The next phantom (waiting for it if it is not finished), and start rendering the one after."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        phantom, self._result = self._result, None
        self._thread = self._start()
        return phantom
